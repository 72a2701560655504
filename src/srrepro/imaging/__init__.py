"""Images in and out, and the MATLAB operations the papers' evaluation code relies on."""

"""Reports: the run summary, every paper table with the published values beside ours, figures and the site."""

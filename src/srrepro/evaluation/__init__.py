"""Evaluation protocols: metrics of SR folders against HR folders, and ImageNet recognition of SR images (Table III)."""

"""The `calu-np` command-line application, installed as the package calu_np_cli."""

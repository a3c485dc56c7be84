"""Emergency drills (应急演练): scenario files, injected incidents on a live system, and the
scorecard. See README.md in this folder; `lookout drill` and `lookout record` are in cli.py and
recorder.py."""

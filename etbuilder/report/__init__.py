"""What a run leaves for people to read, without torch: metrics, run folder, report and plots.

The runtime writes through it after training; the packager, `etb evaluate` and the studio read
through it; none of it imports torch, so a report can be rebuilt on a machine without it.
"""

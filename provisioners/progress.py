"""Progress of long waits: a live counter on a terminal, silence in logs."""

import sys


class Progress:
    def __init__(self, what, total, stream=None):
        self.what = what
        self.total = total
        self.stream = stream or sys.stderr
        self.live = self.stream.isatty()

    def update(self, done):
        if self.live:
            self.stream.write(f"\r{self.what} {done}/{self.total}")
            self.stream.flush()

    def close(self):
        if self.live:
            self.stream.write("\n")
            self.stream.flush()

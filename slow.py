import sys, time
n = 0
while True:
    d = sys.stdin.buffer.read1(65536)
    if not d: break
    n += len(d)
    time.sleep(0.004)

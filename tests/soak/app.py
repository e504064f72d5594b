# The soak's app: what one worker's agent supervises. Prints pino-style
# JSON lines at a steady RATE per second for SECONDS (line i is due at
# t0 + (i-1)/RATE, so a late wake-up catches up instead of drifting), every
# ERROR_EVERY-th line a level-50 error with one constant message (the
# store folds them into one row whose occurrenceCount must equal the count
# printed). It starts once GO_FILE exists (the soak creates it when every
# client is connected, so no backlog from the start-up arrives as a burst)
# and, when done, writes what it printed to COUNT_FILE (the soak's ground
# truth, apart from the agent's pipeline) and waits to be stopped.
#
#   python3 app.py RATE SECONDS ERROR_EVERY COUNT_FILE WORKER GO_FILE
import json
import os
import signal
import sys
import time

rate = float(sys.argv[1])
seconds = float(sys.argv[2])
error_every = int(sys.argv[3])
count_file = sys.argv[4]
worker = sys.argv[5]
go_file = sys.argv[6]

while not os.path.exists(go_file):
    time.sleep(0.02)

total = int(rate * seconds)
pid = os.getpid()
errors = 0
t0 = time.monotonic()
out = sys.stdout
for i in range(1, total + 1):
    delay = t0 + (i - 1) / rate - time.monotonic()
    if delay > 0:
        time.sleep(delay)
    now = int(time.time() * 1000)
    if i % error_every == 0:
        errors += 1
        line = {"level": 50, "time": now, "pid": pid, "hostname": worker, "n": i,
                "msg": "payment upstream failed",
                "err": {"type": "Error", "message": "ETIMEDOUT", "stack": "Error: ETIMEDOUT\n    at pay (/app/pay.js:12:9)"}}
    else:
        line = {"level": 30, "time": now, "pid": pid, "hostname": worker, "n": i,
                "msg": f"request {i} served", "req": {"method": "GET", "url": f"/items/{i % 97}"}}
    out.write(json.dumps(line) + "\n")
    out.flush()

tmp = count_file + ".tmp"
with open(tmp, "w") as f:
    json.dump({"printed": total, "errors": errors}, f)
os.rename(tmp, count_file)
while True:
    signal.pause()

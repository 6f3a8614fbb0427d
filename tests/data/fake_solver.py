"""A small external solver for tests/test_external.py.

Reads its parameters from ``params.json`` (``--params FILE``), from ``--name value`` arguments
or from ``SPINEXPLORE_<name>`` environment variables, and behaves as ``$FAKE_MODE`` says:

ok       write {"phase", "confidence", "energy", "observables"} to $SPINEXPLORE_RESULT_FILE
stdout   print the same JSON (after some chatter) on stdout
fail     print 30 numbered lines to stderr and exit with status 3
garbage  print text that is not JSON
nophase  write a JSON object without "phase"
hang     start a child that sleeps (its pid goes to $FAKE_PIDFILE), then sleep
stubborn like hang, but ignore SIGTERM (only SIGKILL stops it)
mixed    by the field: h < 0.1 fails, h > 0.9 sleeps for 600 s, otherwise ok
"""

import json
import os
import signal
import subprocess
import sys
import time


def read_params(argv):
    params = {}
    if "--params" in argv:
        with open(argv[argv.index("--params") + 1]) as fh:
            params.update(json.load(fh))
    elif os.path.exists("params.json"):
        with open("params.json") as fh:
            params.update(json.load(fh))
    i = 0
    while i < len(argv):
        if argv[i].startswith("--") and argv[i] != "--params":
            params[argv[i][2:]] = float(argv[i + 1])
            i += 2
        else:
            i += 1
    for key, value in os.environ.items():
        if key.startswith("SPINEXPLORE_") and key[12:] not in ("WORKDIR", "RESULT_FILE", "PARAMS_FILE"):
            params[key[12:]] = float(value)
    return params


def main():
    mode = os.environ.get("FAKE_MODE", "ok")
    params = read_params(sys.argv[1:])
    h, K = params.get("h", 0.0), params.get("K", 0.0)
    if mode == "mixed":
        mode = "fail" if h < 0.1 else ("sleep" if h > 0.9 else "ok")
    result = {
        "phase": "FERROMAGNET" if h > 0.6 else ("SKYRMION" if h > 0.3 else "SINGLE_Q"),
        "confidence": 0.9,
        "energy": -3.0 + K - h,
        "observables": {"h_seen": h, "K_seen": K, "sq": [0.25, 0.75]},
    }
    if mode == "ok":
        with open(os.environ["SPINEXPLORE_RESULT_FILE"], "w") as fh:
            json.dump(result, fh)
    elif mode == "stdout":
        print("solver starting")
        print(json.dumps(result))
    elif mode == "fail":
        for i in range(30):
            print(f"error line {i}", file=sys.stderr)
        sys.exit(3)
    elif mode == "garbage":
        print("this is not json")
    elif mode == "nophase":
        with open(os.environ["SPINEXPLORE_RESULT_FILE"], "w") as fh:
            json.dump({"energy": 1.0}, fh)
    elif mode in ("hang", "stubborn"):
        if mode == "stubborn":
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
        with open(os.environ["FAKE_PIDFILE"], "w") as fh:
            fh.write(f"{os.getpid()} {child.pid}")
        print("hanging now", file=sys.stderr, flush=True)
        time.sleep(600)
    elif mode == "sleep":
        time.sleep(600)
    else:
        sys.exit(f"unknown FAKE_MODE {mode!r}")


if __name__ == "__main__":
    main()

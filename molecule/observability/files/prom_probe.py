#!/usr/bin/env python3
"""Ask Prometheus and Alertmanager (published on 127.0.0.1) what they see. Prints JSON; exits 1 on timeout.

  prom_probe.py targets PROM TIMEOUT             wait until every active target is up; {jobs, targets, down}
  prom_probe.py query PROM EXPR                  instant query; [{metric, value}]
  prom_probe.py alert PROM NAME firing|gone TIMEOUT [LABEL=VALUE ...]
                                                 wait until the alert is firing (or no longer there) in Prometheus
  prom_probe.py am-alert AM NAME TIMEOUT [LABEL=VALUE ...]
                                                 wait until Alertmanager holds the alert (active)
"""

import json
import sys
import time
import urllib.parse
import urllib.request


def get(url):
    with urllib.request.urlopen(url, timeout=10) as resp:
        return json.loads(resp.read().decode())


def matches(labels, wanted):
    return all(labels.get(k) == v for k, v in wanted.items())


def wait(timeout, check):
    deadline, start, last = time.time() + float(timeout), time.time(), None
    while time.time() < deadline:
        try:
            done, last = check()
        except OSError as exc:
            done, last = False, str(exc)
        if done:
            return {"seconds": round(time.time() - start, 1), "result": last}
        time.sleep(1)
    print(json.dumps({"timeout": float(timeout), "last": last}))
    sys.exit(1)


def main(argv):
    cmd = argv[0]
    if cmd == "targets":
        base, timeout = argv[1:3]

        def check():
            active = get(base + "/api/v1/targets?state=active")["data"]["activeTargets"]
            down = ["%s %s: %s" % (t["labels"]["job"], t["labels"]["instance"], t.get("lastError") or t["health"])
                    for t in active if t["health"] != "up"]
            return bool(active) and not down, {"jobs": sorted(set(t["labels"]["job"] for t in active)),
                                               "targets": len(active), "down": down}
        print(json.dumps(wait(timeout, check)))
    elif cmd == "query":
        base, expr = argv[1:3]
        data = get(base + "/api/v1/query?" + urllib.parse.urlencode({"query": expr}))["data"]["result"]
        print(json.dumps([{"metric": r["metric"], "value": float(r["value"][1])} for r in data]))
    elif cmd == "alert":
        base, name, state, timeout = argv[1:5]
        wanted = dict(a.split("=", 1) for a in argv[5:])

        def check():
            alerts = [a for a in get(base + "/api/v1/alerts")["data"]["alerts"]
                      if a["labels"].get("alertname") == name and matches(a["labels"], wanted)]
            if state == "firing":
                return any(a["state"] == "firing" for a in alerts), alerts
            return not alerts, alerts
        print(json.dumps(wait(timeout, check)))
    elif cmd == "am-alert":
        base, name, timeout = argv[1:4]
        wanted = dict(a.split("=", 1) for a in argv[4:])

        def check():
            alerts = [a for a in get(base + "/api/v2/alerts?active=true")
                      if a["labels"].get("alertname") == name and matches(a["labels"], wanted)]
            return bool(alerts), [a["labels"] for a in alerts]
        print(json.dumps(wait(timeout, check)))
    else:
        print(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

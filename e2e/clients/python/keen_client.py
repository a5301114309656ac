"""Drives Keen's official Python client (PyPI `keen`) against sluice, for
e2e/keen_clients_test.go.

Reads a plan (JSON) on stdin:
  {"url", "project_id", "write_key", "read_key", "master_key",
   "steps": [{"name", "op", ...}, ...]}
and prints one JSON object: step name -> {"result": ...} or {"error": ...}.
Every call goes through the client's own methods, with the arguments the
client documents; nothing is sent by hand.

ops:
  record      {"collection", "events"}: add_events({collection: events})
  record_one  {"collection", "event"}: add_event(collection, event)
  wait_count  {"collection", "count", "timeframe"}: count until it is
              "count" (at most 60 s)
  query       {"analysis", "params"}: the client's method of that
              analysis (count, sum, ..., extraction, funnel,
              multi_analysis), params as keyword arguments
  collection  {"collection"}: get_collection (schema)
  collections {}: get_all_collections (schema)
  delete      {"collection", "params"}: delete_events
  beacon      {"collection", "event"}: generate_image_beacon, then GET it
"""
import json
import sys
import time

import requests
from keen.client import KeenClient


def run(client, step):
    op = step["op"]
    if op == "record":
        return client.add_events({step["collection"]: step["events"]})
    if op == "record_one":
        client.add_event(step["collection"], step["event"])
        return True
    if op == "wait_count":
        deadline = time.time() + 60
        while True:
            n = client.count(step["collection"], timeframe=step.get("timeframe"))
            if n == step["count"] or time.time() > deadline:
                return n
            time.sleep(0.2)
    if op == "query":
        params = dict(step.get("params", {}))
        analysis = step["analysis"]
        if analysis == "funnel":
            return client.funnel(params.pop("steps"), all_keys=True, **params)
        if analysis == "multi_analysis":
            return client.multi_analysis(params.pop("event_collection"), params.pop("analyses"), **params)
        method = getattr(client, analysis)
        return method(**params)
    if op == "collection":
        return client.get_collection(step["collection"])
    if op == "collections":
        return client.get_all_collections()
    if op == "delete":
        return client.delete_events(step["collection"], **step.get("params", {}))
    if op == "beacon":
        # keen 0.7.0's generate_image_beacon calls write_key.decode(): on
        # Python 3 that needs the key as bytes (a str has no decode).
        beacon_client = KeenClient(project_id=client.project_id, write_key=client.api.write_key.encode(),
                                   base_url=client.api.base_url)
        url = beacon_client.generate_image_beacon(step["collection"], step["event"])
        resp = requests.get(url, timeout=30)
        return {"status": resp.status_code, "content_type": resp.headers.get("Content-Type")}
    raise ValueError("unknown op %r" % op)


def main():
    plan = json.load(sys.stdin)
    client = KeenClient(
        project_id=plan["project_id"],
        write_key=plan["write_key"],
        read_key=plan["read_key"],
        master_key=plan["master_key"],
        base_url=plan["url"],
    )
    out = {}
    for step in plan["steps"]:
        try:
            out[step["name"]] = {"result": run(client, step)}
        except Exception as e:  # reported per step; the Go test decides
            out[step["name"]] = {"error": "%s: %s" % (type(e).__name__, e)}
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()

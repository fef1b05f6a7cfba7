#!/usr/bin/env python3
"""Offline stand-ins for a voice assistant's tools, reading data.json beside this file.

Usage: tools.py TOOL  (arguments as a JSON object on stdin; the result, JSON, on stdout).
A tool that cannot do its job prints the reason on stderr and exits 1.
"""
import json
import pathlib
import sys
import time

DATA = json.loads((pathlib.Path(__file__).parent / "data.json").read_text())


def find_contact(args):
    for contact in DATA["contacts"]:
        if contact["email"] == args.get("email"):
            return contact
    return {"found": False, "email": args.get("email")}


def check_crm(args):
    record = DATA["crm"].get(args.get("contact_id"))
    if record is None:
        raise LookupError(f"no CRM record for contact {args.get('contact_id')!r}")
    return record


def check_calendar(args):
    day = DATA["calendar"].get(args.get("date"))
    if day is None:
        return {"date": args.get("date"), "busy": [], "available_slot": "09:00"}
    return {"date": args.get("date"), "attendee": args.get("attendee"), **day}


def send_invite(args):
    missing = [k for k in ("to", "slot") if not args.get(k)]
    if missing:
        raise ValueError(f"missing {', '.join(missing)}")
    return {"sent": True, "invite_id": "inv-1001", "to": args["to"], "slot": args["slot"],
            "title": args.get("title", "")}


TOOLS = {f.__name__: f for f in (find_contact, check_crm, check_calendar, send_invite)}


def main():
    if len(sys.argv) != 2 or sys.argv[1] not in TOOLS:
        print(f"usage: tools.py {{{'|'.join(TOOLS)}}} < args.json", file=sys.stderr)
        return 2
    name = sys.argv[1]
    args = json.load(sys.stdin) if not sys.stdin.isatty() else {}
    time.sleep(DATA["latency_ms"].get(name, 0) / 1000)
    try:
        result = TOOLS[name](args)
    except (LookupError, ValueError) as e:
        print(str(e), file=sys.stderr)
        return 1
    json.dump(result, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())

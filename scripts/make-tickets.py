#!/usr/bin/env python3
"""Writes the shipped specialist example: support tickets routed to one of six teams.

The teams have code names (atlas, beacon, cedar, dune, ember, flint), so the label cannot be
guessed from its own words: each team owns a set of products and topics, and a ticket names
one of them among words every team's tickets share. One example per team (the template's
few-shot prompt) shows one topic of each; 260 labelled rows show them all. Seeded and
deterministic: running it again writes the same files.

    python3 scripts/make-tickets.py        # assets/tickets.jsonl (260), assets/tickets-test.jsonl (100)
    python3 scripts/make-tickets.py DIR    # the same two files into DIR (tests/tickets.rs compares)
"""

import json
import random
import sys
from pathlib import Path

SEED = 28
TRAIN, TEST = 260, 100

# Each team's topics: what a customer would name in a ticket.
TEAMS = {
    "atlas": [  # billing
        "invoice", "refund", "double charge", "credit card payment", "subscription fee",
        "receipt", "VAT number", "annual plan price", "discount code", "payment method",
    ],
    "beacon": [  # signing in
        "password reset", "login page", "two-factor code", "locked account", "single sign-on",
        "reset link", "username", "verification email", "security question", "session timeout",
    ],
    "cedar": [  # the mobile apps
        "iPhone app", "Android app", "app update", "push notifications", "tablet layout",
        "home screen widget", "offline mode in the app", "app store listing", "dark mode on mobile",
        "app crash on launch",
    ],
    "dune": [  # deliveries
        "parcel", "courier", "tracking number", "delivery address", "package", "shipment",
        "delivery slot", "return label", "customs form", "pickup point",
    ],
    "ember": [  # integrations and data
        "API key", "webhook", "CSV export", "Zapier integration", "rate limit", "bulk import",
        "REST endpoint", "OAuth token", "Slack integration", "data sync",
    ],
    "flint": [  # privacy and legal
        "GDPR request", "data deletion", "privacy policy", "cookie banner", "data processing agreement",
        "terms of service", "consent settings", "personal data copy", "data retention", "legal hold",
    ],
}

PROBLEMS = [
    "My {t} is not working.",
    "Something is wrong with the {t}.",
    "I have a question about the {t}.",
    "The {t} stopped working after the last change.",
    "Can someone look at my {t}?",
    "I keep getting an error with the {t}.",
    "The {t} shows the wrong information.",
    "Nobody answered my earlier message about the {t}.",
    "I need help with the {t} as soon as possible.",
    "Is there a known issue with the {t}?",
]
OPENERS = ["", "Hi. ", "Hello team. ", "Urgent: ", "Good morning. ", "Hey there. ", "Quick one: "]
CLOSERS = [
    "", " Thanks.", " Please advise.", " This has been going on since yesterday.",
    " My order number is {n}.", " Customer ID {n}.", " It is blocking my whole team.",
    " I already tried logging out and in again.",
]


def ticket(rng: random.Random, topic: str) -> str:
    problem = rng.choice(PROBLEMS).format(t=topic)
    return rng.choice(OPENERS) + problem + rng.choice(CLOSERS).format(n=rng.randint(10000, 99999))


def main() -> None:
    rng = random.Random(SEED)
    seen, rows = set(), []
    teams = sorted(TEAMS)
    while len(rows) < TRAIN + TEST:
        team = teams[len(rows) % len(teams)]
        text = ticket(rng, rng.choice(TEAMS[team]))
        if text in seen:
            continue
        seen.add(text)
        rows.append((text, team))
    rng.shuffle(rows)
    default = Path(__file__).resolve().parent.parent / "assets"
    assets = Path(sys.argv[1]) if len(sys.argv) > 1 else default
    for name, part, prefix in [
        ("tickets.jsonl", rows[:TRAIN], "t"),
        ("tickets-test.jsonl", rows[TRAIN:], "h"),
    ]:
        with open(assets / name, "w", encoding="utf-8") as f:
            for i, (text, team) in enumerate(part, 1):
                f.write(json.dumps({"id": f"{prefix}{i}", "input": text, "target": team}) + "\n")


if __name__ == "__main__":
    main()

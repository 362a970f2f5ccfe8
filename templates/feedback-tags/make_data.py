"""Write data/{train,validation,test}.csv: customer feedback with any number of topic tags.

The messages are written for this template (no outside source; CC0, like the script): each
one joins one to three clauses, each clause about one topic, in a random order with a random
product and connective, so a message carries the tags of its clauses. Every topic has its own
list of phrasings; the last four phrasings of each topic are kept out of the training and
validation messages and used only in the test messages, so the test score measures how the model
handles wording it has not seen, not how well it remembers sentences:

    python templates/feedback-tags/make_data.py
"""

from __future__ import annotations

import csv
import random
import re
from pathlib import Path

SEED = 13
SIZES = {"train": 600, "validation": 150, "test": 300}
HELD_OUT = 4
PRODUCTS = [
    "blender",
    "jacket",
    "phone case",
    "coffee beans",
    "desk lamp",
    "running shoes",
    "headphones",
    "cookware set",
    "backpack",
    "printer ink",
    "yoga mat",
    "kettle",
]
TOPICS: dict[str, list[str]] = {
    "delivery": [
        "the {p} arrived three days later than promised",
        "delivery was quick, the {p} came the next morning",
        "the courier left the {p} at the wrong address",
        "tracking said delivered but no {p} at my door",
        "my {p} took two weeks to show up",
        "the driver was early and the {p} came right on time",
        "still waiting for the {p}, the shipment seems stuck",
        "shipping was faster than I expected",
        "the parcel with my {p} was sent to another town",
        "it never arrived and the tracking number does not work",
        "delivery slot was missed twice",
        "the {p} was delivered to my neighbour without a note",
        "my order is a week late and nobody tells me where it is",
        "got the {p} a day before the estimated date",
        "the delivery van never turned up on the agreed day",
        "it was shipped the same day I ordered",
    ],
    "price": [
        "the {p} is far too expensive for what it is",
        "great value for money",
        "I found the same {p} cheaper elsewhere",
        "the discount code did not apply at checkout",
        "shipping fees doubled the cost of the {p}",
        "the price went up the day after I ordered",
        "cheapest {p} I could find and worth every penny",
        "I was charged more than the listed price",
        "the sale price was not honoured",
        "too pricey compared with other shops",
        "a fair price for a {p} of this kind",
        "hidden fees appeared on the final bill",
        "the {p} costs twice what it did last year",
        "I paid full price and a week later it was half off",
        "affordable, I would pay that again",
        "the bill was higher than the quote",
    ],
    "quality": [
        "the {p} broke after two uses",
        "the {p} feels solid and well made",
        "the stitching came apart within a week",
        "the material is cheap and flimsy",
        "my {p} stopped working after a month",
        "excellent build, the {p} feels like it will last years",
        "the {p} does not match the photos, the colour is off",
        "the {p} is scratched and has a dent",
        "works perfectly, really happy with how the {p} performs",
        "the {p} overheats after a few minutes",
        "poor quality, the {p} is already falling apart",
        "the {p} is sturdier than my old one",
        "the zip jammed the first time I used it",
        "the finish peeled off after one wash",
        "it leaks every time I use the {p}",
        "the {p} is beautifully made",
    ],
    "customer_service": [
        "the support agent was friendly and solved it in minutes",
        "nobody answered my emails about the {p}",
        "I waited an hour on the phone to speak to someone",
        "customer service refused to help with the {p}",
        "the staff member went out of her way to help",
        "my complaint about the {p} was ignored",
        "the chat agent kept sending me the same copied answer",
        "support promised a call back that never came",
        "they replaced the {p} without any fuss when I called",
        "the helpline was rude and unhelpful",
        "I got a quick and polite answer from support",
        "three different agents gave me three different answers",
        "the team apologised and sorted out the refund",
        "support closed my ticket without replying",
        "a very patient agent walked me through it",
        "no one at the help desk knew anything about the {p}",
    ],
    "app": [
        "the app crashes every time I open my orders",
        "checkout in the app froze at the payment step",
        "the app is easy to use and fast",
        "I could not log in to the app for two days",
        "the search in the app never finds the {p}",
        "the new app update deleted my saved cart",
        "the app keeps sending me far too many notifications",
        "ordering the {p} in the app took under a minute",
        "the website kept logging me out at checkout",
        "the app shows the wrong stock for the {p}",
        "the app's payment page would not load",
        "the app's tracking screen is clear and helpful",
        "I can't reset my password in the app",
        "the app is slow and confusing",
        "the app charged my card but showed an error",
        "the wishlist in the app lost all my items",
    ],
    "packaging": [
        "the box was crushed and the {p} was loose inside",
        "far too much plastic packaging for one {p}",
        "the {p} was well wrapped and protected",
        "the package was soaked from the rain",
        "the seal on the box was broken when it arrived",
        "nice recyclable packaging",
        "the {p} came in a box ten times its size",
        "no padding at all, the {p} rattled around",
        "the wrapping was torn open",
        "the packaging was neat and easy to open",
        "the {p} came in a bag with no box at all",
        "the box smelled of smoke",
        "the {p} was double boxed and arrived in perfect shape",
        "bubble wrap everywhere, impossible to recycle",
        "the parcel tape had come off and the box was open",
        "the gift wrapping I paid for was missing",
    ],
}
OPENERS = [
    "",
    "",
    "Ordered a {p}. ",
    "Second order here. ",
    "Honestly, ",
    "Quick review: ",
    "Bought a {p} for my son. ",
    "Not my first purchase. ",
]
JOINERS = [". ", ", and ", ". Also, ", "; ", ". On top of that, ", ", but "]


def message(topics: dict[str, list[str]], rng: random.Random) -> tuple[str, str]:
    product = rng.choice(PRODUCTS)
    count = rng.choices([1, 2, 3], weights=[45, 40, 15])[0]
    tags = rng.sample(sorted(topics), count)
    clauses = [rng.choice(topics[tag]).format(p=product) for tag in tags]
    text = rng.choice(OPENERS).format(p=product) + clauses[0]
    for clause in clauses[1:]:
        text += rng.choice(JOINERS) + clause
    text = re.sub(r"(^|[.!] )([a-z])", lambda m: m.group(1) + m.group(2).upper(), text)
    text += rng.choice([".", ".", "!", ""])
    return text, ";".join(sorted(tags))


def main() -> None:
    rng = random.Random(SEED)
    seen = {k: v[:-HELD_OUT] for k, v in TOPICS.items()}
    unseen = {k: v[-HELD_OUT:] for k, v in TOPICS.items()}
    out = Path(__file__).parent / "data"
    out.mkdir(exist_ok=True)
    done: set[str] = set()
    for name, size in SIZES.items():
        rows: list[tuple[str, str]] = []
        while len(rows) < size:
            text, tags = message(unseen if name == "test" else seen, rng)
            if text.lower() not in done:
                done.add(text.lower())
                rows.append((text, tags))
        with (out / f"{name}.csv").open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(["feedback", "tags"])
            writer.writerows(rows)
        print(name, len(rows))


if __name__ == "__main__":
    main()

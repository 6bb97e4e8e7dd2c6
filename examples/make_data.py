"""Write examples/data/<example>.jsonl for every example, deterministically (fixed seeds).

    python examples/make_data.py            # rewrite all data files
    python examples/make_data.py --check    # exit 1 if a file differs from what would be written

Rows are synthetic but shaped like the SGLang paper's workloads; sizes suit the CPU tiny model.
Every row has an "id" and the inputs of its program, by name.
"""

from __future__ import annotations

import json
import random
import sys
from collections.abc import Callable
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"
NAMES = ["Ada", "Bruno", "Chloe", "Dmitri", "Elena", "Farid", "Greta", "Hiro", "Ines", "Jonas", "Keiko", "Luis"]
CITIES = ["Lisbon", "Oslo", "Nairobi", "Lima", "Osaka", "Quebec", "Tunis", "Krakow", "Perth", "Bergen"]
COUNTRIES = {"France": "Paris", "Japan": "Tokyo", "Kenya": "Nairobi", "Peru": "Lima", "Norway": "Oslo",
             "Egypt": "Cairo", "Chile": "Santiago", "Canada": "Ottawa", "Poland": "Warsaw", "Vietnam": "Hanoi"}


def _shuffled_options(rng: random.Random, correct: str, wrong: list[str]) -> tuple[list[str], str]:
    options = [correct, *rng.sample(wrong, 3)]
    rng.shuffle(options)
    return options, "ABCD"[options.index(correct)]


def few_shot_mmlu(rng: random.Random) -> list[dict]:
    rows = []
    for i in range(64):
        kind = i % 3
        if kind == 0:
            a, b = rng.randint(12, 89), rng.randint(12, 89)
            correct = str(a + b)
            wrong = [str(a + b + d) for d in (-10, -1, 1, 2, 10, 11)]
            question = f"What is the sum of {a} and {b}?"
        elif kind == 1:
            country = rng.choice(sorted(COUNTRIES))
            correct = COUNTRIES[country]
            wrong = sorted(set(COUNTRIES.values()) - {correct})
            question = f"What is the capital city of {country}?"
        else:
            n = rng.randint(3, 9)
            correct = str(n * (n - 3) // 2)
            wrong = sorted({str(v) for v in (n, n * 2, n * (n - 1) // 2, n + 3, 2 * n - 1, n * n)} - {correct})
            question = f"How many diagonals does a convex polygon with {n} sides have?"
        choices, answer = _shuffled_options(rng, correct, wrong)
        rows.append({"id": f"mmlu-{i}", "question": question, "choices": choices, "answer": answer})
    return rows


def hellaswag(rng: random.Random) -> list[dict]:
    scenes = [
        ("A chef places a pan on the stove and adds oil. She", "drops chopped onions into the hot pan and stirs them."),
        ("A boy ties his running shoes at the edge of a track. He", "stands up, stretches his legs, and starts to jog."),
        ("A woman opens her laptop at a cafe table. She", "types her password and begins reading her email."),
        ("A gardener kneels beside a row of tomato plants. He", "pulls out a few weeds and waters the soil."),
        ("A musician lifts a violin to her shoulder. She", "draws the bow across the strings and plays a slow tune."),
        ("A man carries a kayak down to the lake. He", "sets it in the shallow water and climbs in carefully."),
        ("A student sits down with a stack of flash cards. He", "reads the first card aloud and tries to recall the answer."),
        ("A painter dips a roller into a tray of blue paint. She", "rolls the paint in long strokes across the wall."),
    ]
    rows = []
    for i in range(32):
        context, correct = scenes[i % len(scenes)]
        others = [end for _, end in scenes if end != correct]
        endings = [correct, *rng.sample(others, 3)]
        rng.shuffle(endings)
        rows.append({"id": f"hs-{i}", "context": context, "endings": endings, "label": endings.index(correct)})
    return rows


def tree_of_thought(rng: random.Random) -> list[dict]:
    rows = []
    for i in range(16):
        a, b, c = rng.randint(2, 9), rng.randint(10, 40), rng.randint(2, 6)
        rows.append({"id": f"tot-{i}", "question": f"A shop sells pens in boxes of {a}. It has {b} boxes and sells "
                     f"{c} boxes each day. How many pens are left after three days?"})
    return rows


def skeleton_of_thought(rng: random.Random) -> list[dict]:
    topics = ["learn a new language", "start running", "save money each month", "sleep better",
              "prepare for a job interview", "keep houseplants alive", "cook for a large group",
              "reduce screen time", "plan a long bicycle trip", "write a clear email"]
    return [{"id": f"sot-{i}", "question": f"How can someone {topic}?"} for i, topic in enumerate(rng.sample(topics, 10) + rng.sample(topics, 6))]


def json_extraction(rng: random.Random) -> list[dict]:
    rows = []
    for i in range(32):
        name, city, age = rng.choice(NAMES), rng.choice(CITIES), rng.randint(19, 78)
        phone = f"({rng.randint(200, 989)}) {rng.randint(200, 989)}-{rng.randint(1000, 9999)}"
        text = rng.choice([
            f"{name} is {age} years old and lives in {city}. You can reach them at {phone}.",
            f"Call {phone} to talk to {name}, a {age}-year-old resident of {city}.",
            f"Living in {city}, {name} turned {age} this year; their number is {phone}.",
        ])
        rows.append({"id": f"json-{i}", "text": text})
    return rows


def multi_turn_chat(rng: random.Random) -> list[dict]:
    openers = ["Hi, my bike chain keeps slipping.", "Do you sell helmets for kids?", "My front brake squeaks.",
               "What tire pressure should I use?", "I want to start commuting by bike."]
    follow_ups = ["How much would that cost?", "Can I do it myself?", "How long does it take?",
                  "Do I need an appointment?", "What would you recommend?", "Is it safe to ride meanwhile?"]
    rows = []
    for i in range(16):
        turns = [rng.choice(openers), *rng.sample(follow_ups, rng.randint(1, 3))]
        rows.append({"id": f"chat-{i}", "turns": turns})
    return rows


def react_agent(rng: random.Random) -> list[dict]:
    return [{"id": f"react-{i}", "question": f"Which city is the capital of {country}, and what river flows through it?"}
            for i, country in enumerate(rng.sample(sorted(COUNTRIES), 10) + rng.sample(sorted(COUNTRIES), 6))]


def llm_judge(rng: random.Random) -> list[dict]:
    rows = []
    for i in range(32):
        country = rng.choice(sorted(COUNTRIES))
        right = rng.random() < 0.6
        answer = COUNTRIES[country] if right else rng.choice(sorted(set(COUNTRIES.values()) - {COUNTRIES[country]}))
        rows.append({"id": f"judge-{i}", "question": f"What is the capital of {country}?",
                     "answer": f"The capital of {country} is {answer}."})
    return rows


PASSAGES = [
    "The Nile is the longest river in Africa and flows north into the Mediterranean Sea.",
    "Paris lies on the Seine, which flows through the city from east to west.",
    "Tokyo is crossed by the Sumida River, once a busy route for boats and trade.",
    "Lima was founded in 1535 beside the Rimac River on the Pacific coast of Peru.",
    "Oslo sits at the head of the Oslofjord; the Akerselva river runs through its centre.",
    "Warsaw is built on both banks of the Vistula, the longest river in Poland.",
    "Hanoi's name means 'inside the river', after its position on the Red River.",
    "Ottawa stands where the Rideau River meets the Ottawa River in Ontario.",
    "Santiago is crossed by the Mapocho River, which flows down from the Andes.",
    "Nairobi takes its name from a Maasai phrase meaning 'place of cool waters'.",
    "Cairo spreads along the banks of the Nile near the head of its delta.",
    "Rivers were the main trade routes of many capitals before railways were built.",
]


def rag_pipeline(rng: random.Random) -> list[dict]:
    rows = []
    for i in range(16):
        country = rng.choice(sorted(COUNTRIES))
        rows.append({"id": f"rag-{i}", "question": f"Which river flows through {COUNTRIES[country]}?",
                     "passages": rng.sample(PASSAGES, 3)})
    return rows


GENERATORS: dict[str, Callable[[random.Random], list[dict]]] = {
    "few_shot_mmlu": few_shot_mmlu,
    "hellaswag": hellaswag,
    "tree_of_thought": tree_of_thought,
    "skeleton_of_thought": skeleton_of_thought,
    "json_extraction": json_extraction,
    "multi_turn_chat": multi_turn_chat,
    "react_agent": react_agent,
    "llm_judge": llm_judge,
    "rag_pipeline": rag_pipeline,
}


def render(name: str) -> str:
    """The JSONL text of one example's data (seeded by the example's name)."""
    rows = GENERATORS[name](random.Random(f"lmc-examples-{name}"))
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale = []
    DATA.mkdir(exist_ok=True)
    for name in GENERATORS:
        path = DATA / f"{name}.jsonl"
        text = render(name)
        if check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(path.name)
        else:
            path.write_text(text, encoding="utf-8")
    if stale:
        print("out of date: " + ", ".join(stale) + " (run python examples/make_data.py)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Few-shot multiple choice (the MMLU shape): a long shared prompt, one `select` per row.

Eight worked examples (about 530 tokens) are the same for every row: the compiler hoists them
into one prefix computed once; each row adds its own question and four options, and the answer
is the letter with the best length-normalized log-probability.
"""

import lmc

INSTRUCTIONS = (
    "The following are multiple choice questions (with answers) about general knowledge. "
    "Read each question carefully, consider every option, and answer with a single letter.\n\n"
)
EXAMPLES = [
    {
        "question": "Which of the following processes do plants use to convert light energy into chemical energy stored in glucose?",
        "choices": ["Respiration", "Photosynthesis", "Fermentation", "Transpiration"],
        "answer": "B",
    },
    {
        "question": "A train travels 180 kilometres in 2 hours at a constant speed. How far will it travel in 5 hours at the same speed?",
        "choices": ["360 kilometres", "400 kilometres", "450 kilometres", "500 kilometres"],
        "answer": "C",
    },
    {
        "question": "Which document, signed in 1215, limited the power of the English king and is often cited as an early step toward constitutional government?",
        "choices": ["The Bill of Rights", "The Magna Carta", "The Act of Union", "The Domesday Book"],
        "answer": "B",
    },
    {
        "question": "In computer science, what is the worst-case time complexity of binary search on a sorted array of n elements?",
        "choices": ["O(1)", "O(log n)", "O(n)", "O(n log n)"],
        "answer": "B",
    },
    {
        "question": "Which gas makes up the largest share of the Earth's atmosphere by volume at sea level, far more than oxygen or carbon dioxide?",
        "choices": ["Nitrogen", "Argon", "Oxygen", "Hydrogen"],
        "answer": "A",
    },
    {
        "question": "An economist observes that when the price of a good rises, the quantity demanded falls, all else being equal. Which principle does this describe?",
        "choices": ["The law of supply", "The law of demand", "Comparative advantage", "Diminishing returns"],
        "answer": "B",
    },
    {
        "question": "Which organ of the human body is primarily responsible for filtering waste products from the blood and producing urine?",
        "choices": ["The liver", "The lungs", "The kidneys", "The pancreas"],
        "answer": "C",
    },
    {
        "question": "A rectangle has a length of 12 centimetres and a width of 5 centimetres. What is the length of its diagonal?",
        "choices": ["13 centimetres", "15 centimetres", "17 centimetres", "60 centimetres"],
        "answer": "A",
    },
]


@lmc.program
def few_shot_mmlu(s, question: str, choices: list):
    s += INSTRUCTIONS
    for ex in EXAMPLES:
        s += ex["question"] + "\n"
        for letter, choice in zip("ABCD", ex["choices"]):
            s += f"{letter}. {choice}\n"
        s += f"Answer: {ex['answer']}\n\n"
    s += question + "\n"
    for letter, choice in zip("ABCD", choices):
        s += f"{letter}. {choice}\n"
    s += "Answer:" + lmc.select("answer", choices=[" A", " B", " C", " D"])

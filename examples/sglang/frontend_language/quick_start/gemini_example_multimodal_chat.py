"""Ported from SGLang's examples/frontend_language/quick_start/gemini_example_multimodal_chat.py; only
`import lmc as sgl` changed. Rows: {"image_file1", "image_file2", "question"}; the script reads
state["answer"]. Running it as written needs a vision-language model (lmc's engine is text-only), a
Google Cloud project (GCP_PROJECT_ID) and a Vertex AI backend."""

import lmc as sgl


@sgl.function
def image_qa(s, image_file1, image_file2, question):
    s += sgl.user(sgl.image(image_file1) + sgl.image(image_file2) + question)
    s += sgl.assistant(sgl.gen("answer", max_tokens=256))


if __name__ == "__main__":
    sgl.set_default_backend(sgl.VertexAI("gemini-pro-vision"))

    state = image_qa.run(
        image_file1="./images/cat.jpeg",
        image_file2="./images/dog.jpeg",
        question="Describe difference of the two images in one sentence.",
        stream=True,
    )

    for out in state.text_iter("answer"):
        print(out, end="", flush=True)
    print()

    print(state["answer"])

"""Ported from SGLang's examples/frontend_language/usage/llava_video/srt_example_llava_v.py; only
`import lmc as sgl` changed (the program and its `single` driver; the rest of the command-line
driver, which downloads a video, starts SGLang's Runtime with LLaVA-NeXT-Video overrides and writes
CSV chunks, left out: it is server set-up and file handling, not an LM program). Rows:
{"num_frames", "video_path", "question"}; the script reads state["answer"]. Running it as written
needs a video-language model (LLaVA-NeXT-Video) and opencv; lmc's engine is text-only."""

import lmc as sgl


@sgl.function
def video_qa(s, num_frames, video_path, question):
    s += sgl.user(sgl.video(video_path, num_frames) + question)
    s += sgl.assistant(sgl.gen("answer"))


def single(path, num_frames=16):
    state = video_qa.run(
        num_frames=num_frames,
        video_path=path,
        question="Please provide a detailed description of the video, focusing on the main subjects, their actions, the background scenes",
        temperature=0.0,
        max_new_tokens=1024,
    )
    print(state["answer"], "\n")

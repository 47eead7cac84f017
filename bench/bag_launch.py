"""Start aws-samples/bedrock-access-gateway from its own source, offline, for `bench.run --peer bag`.

Run by the gateway's own venv (bench/.bag-venv), never by ours, and it imports nothing of
Fintalk: `python bench/bag_launch.py --src /work/bag-src --port 8123`.

The gateway is started as its Dockerfile starts it (`uvicorn api.app:app`, one process, the
requirements it pins) with one change: its module-level `tiktoken.get_encoding("cl100k_base")`
downloads the encoding at import, which this machine cannot do, so `get_encoding` gives a word
splitter instead. The gateway only uses the encoder to count reasoning tokens and to decode
token-id embedding inputs; neither happens in the benchmark's turns (Nova Lite, no reasoning,
no embeddings), so the swap changes no byte it sends.
"""
import argparse
import sys
from pathlib import Path


class WordEncoder:
    """tiktoken's Encoding surface the gateway calls (`encode`, `decode`), one id per word."""

    name = "words"

    def __init__(self):
        self.words: dict[str, int] = {}
        self.by_id: list[str] = []

    def encode(self, text: str, **_) -> list[int]:
        ids = []
        for word in text.split():
            if word not in self.words:
                self.words[word] = len(self.by_id)
                self.by_id.append(word)
            ids.append(self.words[word])
        return ids

    def decode(self, ids, **_) -> str:
        return " ".join(self.by_id[i] if 0 <= i < len(self.by_id) else "" for i in ids)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", type=Path, required=True, help="a checkout of aws-samples/bedrock-access-gateway")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    import tiktoken

    tiktoken.get_encoding = lambda name: WordEncoder()  # before the gateway's import reads it
    sys.path.insert(0, str(args.src / "src"))
    import uvicorn

    uvicorn.run("api.app:app", host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()

"""tiktoken encodings from local files, so the peer never fetches from the internet.

tiktoken downloads its `.tiktoken` rank files on first use; the tiktoken-rs crate ships the
same files. We read them ourselves and hand tiktoken's own constructor (pattern and special
tokens) the ranks, so the Encoding is exactly the one tiktoken would build.
"""

import base64
from pathlib import Path

import tiktoken
import tiktoken_ext.openai_public as openai_public


def _ranks(path: Path) -> dict:
    ranks = {}
    for line in path.read_bytes().splitlines():
        if line:
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)
    return ranks


def encoding(name: str, assets: Path) -> tiktoken.Encoding:
    file = assets / f"{name}.tiktoken"
    if not file.is_file():
        raise SystemExit(f"{file}: not found (pass --assets, the tiktoken-rs crate's assets folder)")
    openai_public.load_tiktoken_bpe = lambda *_args, **_kw: _ranks(file)
    params = openai_public.ENCODING_CONSTRUCTORS[name]()
    return tiktoken.Encoding(**params)

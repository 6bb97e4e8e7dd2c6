"""Token masks of the CFG constraint, vectorized over the vocabulary.

For the tokens that stay inside the current lexeme, a walk of the vocabulary trie through the
lexer DFA decides; it depends only on the lexer state, so it is cached per lexer state whatever
the parser stack. Only tokens that cross a lexeme boundary depend on the stack: those that leave
at the same byte from the same lexer state end the same terminal, so they run through the next
lexer together. Tokens that cross a second boundary are left to a byte-by-byte advance.
"""

from __future__ import annotations

import numpy as np

from lmc.grammars.cfg_lexer import Lexer
from lmc.grammars.trie_walk import walk_levels
from lmc.grammars.vocab import Vocabulary

LexemeWalk = tuple[np.ndarray, list[tuple[int, int, np.ndarray]]]


def lexeme_walk(vocab: Vocabulary, lexer: Lexer, start: int) -> LexemeWalk:
    """Tokens that stay inside the lexeme from lexer state `start` (a bool mask over the
    vocabulary), and `(depth, before, rows)` for tokens that leave it: after `depth` bytes, in
    lexer state `before` (which completes a terminal), as rows of `vocab.rows`."""
    inside = np.zeros(vocab.vocab_size, dtype=bool)
    exits: dict[tuple[int, int], list[np.ndarray]] = {}
    for depth, level in enumerate(walk_levels(vocab, lexer.dfa.trans, np.array([start]))):
        alive = level.after[:, 0] != level.dead
        ends = level.child[alive & (vocab.node_token[level.child] >= 0)]
        inside[vocab.node_token[ends]] = True
        for c, before in zip(level.child[~alive].tolist(), level.before[~alive, 0].tolist()):
            if lexer.best[before] >= 0:
                exits.setdefault((depth, before), []).append(np.arange(vocab.tok_lo[c], vocab.sub_hi[c]))
    dup_token, dup_twin = vocab.duplicates
    inside[dup_token] = inside[dup_twin]
    return inside, [(d, b, np.concatenate(r)) for (d, b), r in exits.items()]


def cross_boundary(vocab: Vocabulary, lexer: Lexer, rows: np.ndarray, depth: int) -> tuple[np.ndarray, np.ndarray]:
    """Run the rest of each token (from byte `depth`) through the next lexeme's `lexer`:
    the token ids that stay inside it, and those that complete it and go on (to retry)."""
    matrix, lengths = vocab.rows[rows], vocab.row_len[rows]
    current = np.zeros(len(rows), dtype=np.int64)
    alive = np.ones(len(rows), dtype=bool)
    before = np.full(len(rows), -1, dtype=np.int64)
    for pos in range(depth, matrix.shape[1]):
        active = np.flatnonzero(alive & (lengths > pos))
        if not len(active):
            break
        nxt = lexer.dfa.trans[current[active], matrix[active, pos]]
        dead = nxt < 0
        alive[active[dead]] = False
        before[active[dead]] = current[active[dead]]
        current[active[~dead]] = nxt[~dead]
    retry = ~alive & (before >= 0) & (lexer.best[np.maximum(before, 0)] >= 0)
    return vocab.order[rows[alive]], vocab.order[rows[retry]]

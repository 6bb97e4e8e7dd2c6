"""SGLang's `sglang.lang` module paths under lmc's name, so a port changes only `sglang` to `lmc`
in an import (`from lmc.lang.ir import REGEX_INT`); programs may import their constants inside the
body, as SGLang's test programs do (compiler/README.md)."""

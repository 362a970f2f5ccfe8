"""The compiler passes, one module each; `etbuilder.compiler.pipeline.PASSES` orders them."""

//! Everything torch: model definitions, weight loading and pipelines. Usable without OpenFX.

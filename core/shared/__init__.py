"""Teaching pieces that several lessons use: 2-D point sets and decision-surface grids (`points`), the
deep-network race (`deepnet`), the recurrent race through time (`recurrent`) and the embedded images
(`imagedata`). They import only the engine."""

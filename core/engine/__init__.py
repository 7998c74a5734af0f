"""The live training engine every lesson runs on: jobs and their registry (`jobs`), pacing and chunked
training loops (`pacing`), Keras on JAX (`backend`), controls and their URL round trip (`params`),
uploads (`csvinput`), downloads (`export`) and a visitor's text made safe (`text`). It imports no lesson."""

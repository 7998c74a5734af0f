"""Word vectors & debiasing: GloVe, the bias direction and hard debiasing, and the word lists."""

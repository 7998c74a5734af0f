"""Benchmarks of the sequence-models lesson (part of `make bench`; `python -m bench.run sequence_models`).

The translator's live run as a job at full speed, at the page's defaults (dot-product attention, 64 GRU units,
12,000 sentences, 10 epochs) and with each other attention: seconds from Train to the end, to the first epoch's
row (compiling included) and to TARGET of the held-out words right (greedy decoding, on numbers training never
shows), epochs per second after the first, and the final row. Then, on the default run's weights, greedy decoding
and beam search of a typed phrase: milliseconds each, and on the held-out sentences how often beam search (width 3)
finds a likelier translation than greedy and how often it is more often right.

The text generator's live run at the page's defaults (news, 128 LSTM units, 20 epochs) at full speed, and on the
Star Trek quotes where Debian's fortunes is installed: seconds to the end and until the held-out perplexity falls
below half the unigram model's, epochs per second, the final perplexity beside the unigram model's, and the share of
words spelled as in the text in the first and the last sample; then writing 200 characters from the final weights,
cold (compiling) and warm.

The trigger-word detector's live run at the page's defaults (600 clips, 64 GRU units, 20 epochs) at full speed, in a
fresh process (nothing cached): seconds to speak the words and make the clips, to the end, and until held-out
detection F1 reaches F1_TARGET; epochs per second; the best and final F1; the memory the clips take.
"""

from __future__ import annotations

import time

from core.engine.jobs import JobRegistry
from core.lessons.sequence_models import generation, numbers, translation, trigger

PHRASE = "there are eighty one apples in the kitchen"
F1_TARGET = 0.8


def live_run(**changes) -> tuple[dict, object]:
    config = {control.key: control.default for control in translation.CONTROLS} | {"speed": "full speed"} | changes
    started = time.perf_counter()
    job = JobRegistry(max_running=1).submit(translation.task(config), "bench")
    job.wait(1800)
    seconds = time.perf_counter() - started
    view = job.view()
    history = view.history
    reached = next((row for row in history if row["val_word_accuracy"] >= translation.TARGET), None)
    span = history[-1]["time_s"] - history[0]["time_s"]
    return {
        "seconds_train_to_end": round(seconds, 1),
        "seconds_to_first_epoch": round(history[0]["time_s"], 1),
        f"epoch_to_{translation.TARGET:.0%}_words": int(reached["epoch"]) if reached else None,
        f"seconds_to_{translation.TARGET:.0%}_words": round(reached["time_s"], 1) if reached else None,
        "epochs_per_s_after_the_first": round((len(history) - 1) / span, 2) if span > 0 else None,
        "final": {metric: round(history[-1][metric], 4) for metric in translation.METRICS},
    }, view.snapshot


def decoding(shot, config) -> dict:
    corpus = numbers.parallel_corpus(int(config["sentences"]), int(config["seed"]))
    translator = translation.Translator(
        corpus, int(config["units"]), config["attention"], shot.trainable, shot.non_trainable
    )
    _, row = numbers.encode_phrase(PHRASE, corpus)
    translator.greedy(row[None])
    translation.beam_search(translator, row, 3)  # compiled
    timings = {}
    for name, decode in (
        ("greedy", lambda: translator.greedy(row[None])),
        ("beam_3", lambda: translation.beam_search(translator, row, 3)),
    ):
        started = time.perf_counter()
        for _ in range(10):
            decode()
        timings[f"{name}_ms"] = round((time.perf_counter() - started) * 100, 1)
    likelier = right_greedy = right_beam = 0
    held = corpus.held_out
    greedy = translator.greedy(corpus.source[held])
    for i, words in zip(held, greedy):
        beam = translation.beam_search(translator, corpus.source[i], 3)[0]
        likelier += beam.score > translator.score(corpus.source[i], words) + 1e-4
        reference = tuple(corpus.pairs[i].french.split())
        right_greedy += tuple(words) == reference
        right_beam += beam.words == reference
    return {
        "phrase": PHRASE,
        **timings,
        "held_out_sentences": len(held),
        "beam_3_likelier_than_greedy": int(likelier),
        "exactly_right_greedy": int(right_greedy),
        "exactly_right_beam_3": int(right_beam),
    }


def generator_run(**changes) -> dict:
    config = {control.key: control.default for control in generation.CONTROLS} | {"speed": "full speed"} | changes
    started = time.perf_counter()
    job = JobRegistry(max_running=1).submit(generation.task(config), "bench")
    job.wait(1800)
    seconds, view = time.perf_counter() - started, job.view()
    history, shot = view.history, view.snapshot
    text = generation.character_text(config["text"])
    half = text.unigram_perplexity / 2
    reached = next((row for row in history if row["val_perplexity"] < half), None)
    span = history[-1]["time_s"] - history[0]["time_s"]
    timings = {}
    for name in ("cold", "warm"):
        begun = time.perf_counter()
        generation.write(text, shot.units, shot.weights, generation.PRIMERS[text.name], 200, 0.7, 1)
        timings[f"write_200_characters_{name}_ms"] = round((time.perf_counter() - begun) * 1000, 1)
    return {
        "seconds_train_to_end": round(seconds, 1),
        "seconds_to_first_epoch": round(history[0]["time_s"], 1),
        "epochs_per_s_after_the_first": round((len(history) - 1) / span, 2) if span > 0 else None,
        "unigram_perplexity": round(text.unigram_perplexity, 2),
        "epoch_to_half_the_unigram_perplexity": int(reached["epoch"]) if reached else None,
        "seconds_to_half_the_unigram_perplexity": round(reached["time_s"], 1) if reached else None,
        "final_held_out_perplexity": round(history[-1]["val_perplexity"], 2),
        "words_spelled_as_in_the_text": {
            f"epoch {epoch}": round(generation.real_word_share(sample, text), 2)
            for epoch, sample in (shot.samples[0], shot.samples[-1])
        },
        "last_sample": shot.samples[-1][1],
        **timings,
    }


def trigger_run(**changes) -> dict:
    config = {control.key: control.default for control in trigger.CONTROLS} | {"speed": "full speed"} | changes
    started = time.perf_counter()
    bank = trigger.word_bank()
    spoken = time.perf_counter()
    data = trigger.trigger_data(int(config["clips"]), int(config["seed"]))
    made = time.perf_counter()
    job = JobRegistry(max_running=1).submit(trigger.task(config), "bench")
    job.wait(1800)
    seconds, history = time.perf_counter() - made, job.view().history
    reached = next((row for row in history if row["val_f1"] >= F1_TARGET), None)
    best = max(history, key=lambda row: row["val_f1"])
    span = history[-1]["time_s"] - history[0]["time_s"]
    return {
        "seconds_to_speak_the_words": round(spoken - started, 2),
        "word_recordings": sum(len(v) for v in bank.values()),
        "seconds_to_make_the_clips": round(made - spoken, 2),
        "clips_mb": round((data.x_train.nbytes + data.x_test.nbytes) / 2**20, 1),
        "seconds_train_to_end": round(seconds, 1),
        "seconds_to_first_epoch": round(history[0]["time_s"], 1),
        "epochs_per_s_after_the_first": round((len(history) - 1) / span, 2) if span > 0 else None,
        f"epoch_to_f1_{F1_TARGET}": int(reached["epoch"]) if reached else None,
        f"seconds_to_f1_{F1_TARGET}": round(reached["time_s"], 1) if reached else None,
        "best_f1": {"epoch": int(best["epoch"]), "f1": round(best["val_f1"], 3)},
        "final": {metric: round(history[-1][metric], 4) for metric in trigger.METRICS},
        "never_firing_step_accuracy": round(1 - float(data.y_test.mean()), 4),
    }


def run(browser=None) -> dict:
    defaults, shot = live_run()
    config = {control.key: control.default for control in translation.CONTROLS}
    generator = {"generation_defaults": generator_run()}
    if generation.STAR_TREK in generation.available_texts():
        generator["generation_star_trek"] = generator_run(text=generation.STAR_TREK)
    return {
        "trigger_defaults": trigger_run(),
        **generator,
        "translation_defaults": defaults,
        "translation_additive": live_run(attention=translation.ADDITIVE)[0],
        "translation_no_attention": live_run(attention=translation.NONE)[0],
        "translation_no_attention_30_epochs": live_run(attention=translation.NONE, epochs=30)[0],
        "decoding_after_the_default_run": decoding(shot, config),
    }

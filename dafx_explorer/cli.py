"""Command line: ``python -m dafx_explorer COMMAND``.

Bad input exits with status 2 and one line on stderr, never a traceback; ``--json``
prints machine-readable results on stdout. Heavy modules are imported by the command
that needs them, so ``effects`` answers at once.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from dafx_explorer.errors import DafxError

EXIT_BAD_INPUT = 2
"""Exit status of every command given bad input (a file, a name, a value), after one line on stderr."""


class _Parser(argparse.ArgumentParser):
    """Argument parser whose errors are one line on stderr and status 2."""

    def error(self, message: str) -> None:  # noqa: D102
        self.exit(EXIT_BAD_INPUT, f"error: {self.prog}: {message}\n")


def _int_at_least(minimum: int):
    """An argparse type: a whole number no smaller than ``minimum``."""
    def whole_number(text: str) -> int:
        value = int(text)  # a ValueError reads "invalid whole_number value: …"
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value
    return whole_number


def _share(text: str) -> float:
    """An argparse type: a fraction from 0 to 1."""
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be from 0 to 1, got {value:g}")
    return value


def _print_json(payload) -> None:
    print(json.dumps(payload, indent=2, allow_nan=False))


def _resolve_effect(name: str):
    """A built-in effect by name, or a VST3 plugin by path (``*.vst3``)."""
    from dafx_explorer import effects

    if name.endswith(".vst3") or "/" in name:
        return effects.load_vst3(name)
    return effects.get(name)


def _parse_params(effect, text: str | None, seed: int | None):
    """Normalized settings from a JSON object of {name: value in [0, 1]}; others default or random."""
    import numpy as np

    given = {}
    if text:
        try:
            given = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DafxError(f"--params is not valid JSON ({exc.msg}); expected e.g. '{{\"mix\": 0.5}}'") from None
        if not isinstance(given, dict):
            raise DafxError("--params must be a JSON object of parameter names to normalized values in [0, 1]")
    base = effect.defaults() if seed is None else np.random.default_rng(seed).random(effect.n_params)
    for name, value in given.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise DafxError(f"--params: value of {name!r} must be a number in [0, 1], got {value!r}")
        if not 0.0 <= value <= 1.0:
            raise DafxError(f"--params: value of {name!r} must be normalized to [0, 1], got {value}")
    return effect.normalize_settings({**dict(zip(effect.param_names, base, strict=True)), **given})


def _read_preset(path: str, effect):
    """Effect and normalized settings of the preset file at ``path`` (ours or a pedalboard chain)."""
    from dafx_explorer import presets

    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DafxError(f"cannot read preset {path}: {getattr(exc, 'strerror', None) or exc}") from None
    return presets.read_preset(text, effect)


def cmd_effects(args) -> int:
    from dafx_explorer import effects

    listing = {
        name: [
            {"name": p.name, "min": p.minimum, "max": p.maximum, "unit": p.unit, "scale": p.scale,
             "default": p.default, "bypass": p.bypass}
            for p in effects.get(name).params
        ]
        for name in effects.names()
    }
    if args.json:
        _print_json(listing)
        return 0
    for name, params in listing.items():
        print(name)
        for p in params:
            unit = f" {p['unit']}" if p["unit"] else ""
            bypass = "" if p["bypass"] is None else f", bypass at {p['bypass']:g}"
            print(f"  {p['name']:<22} {p['min']:g}–{p['max']:g}{unit} ({p['scale']}, default {p['default']:g}{bypass})")
    return 0


def cmd_render(args) -> int:
    from dafx_explorer import audio
    from dafx_explorer.settings import SAMPLE_RATE

    effect = _resolve_effect(args.effect) if args.effect else None
    if args.preset:
        effect, p = _read_preset(args.preset, effect)
    elif effect is None:
        raise DafxError("render needs --effect (or a --preset that names its effect)")
    else:
        p = _parse_params(effect, args.params, args.seed)
    samples = audio.load(args.input)
    audio.save(args.output, effect.render(samples, SAMPLE_RATE, p))
    if args.json:
        _print_json({"effect": effect.name, "params": effect.describe(p), "output": str(args.output)})
    return 0


def cmd_sources(args) -> int:
    from dafx_explorer import sources
    from dafx_explorer.settings import get_settings

    folder = Path(args.out) if args.out else get_settings().sources_dir
    paths = sources.write_builtin_clips(folder)
    if args.real:
        from dafx_explorer import manifest, real_clips

        paths += real_clips.write_real_clips(folder)
        if folder.resolve() == get_settings().sources_dir.resolve():
            for name, entry in real_clips.catalogue().items():
                manifest.record("sources", name, {**entry, "command": manifest.command_line(),
                                                  "path": f"sources/{name}.flac"})
    for path in paths:
        print(path)
    return 0


def _add_cluster_options(p, resume: bool = True) -> None:
    """``--scheduler``, ``--workers`` (and ``--resume``) of the commands that run on a Dask cluster."""
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="Dask scheduler to run on, e.g. tcp://host:8786 (default: $DAFX_EXPLORER_SCHEDULER, "
                        "else a local cluster, or this process for tiny jobs)")
    p.add_argument("--workers", type=_int_at_least(0),
                   help="worker processes of the local cluster (default: one per core; 0: this process)")
    if resume:
        p.add_argument("--resume", action="store_true", help="keep the chunks an interrupted run finished")


def _cluster_options(args) -> dict:
    return {"scheduler": args.scheduler, "workers": args.workers, "resume": args.resume}


def _given(**options):
    """The options given on the command line (not None); the others keep the training config's defaults."""
    return {name: value for name, value in options.items() if value is not None}


def encoder_training_config(args):
    """The ``EncoderTrainingConfig`` that ``train-encoder`` builds from its parsed arguments."""
    from dafx_explorer import training

    return training.EncoderTrainingConfig(
        kind=args.kind, seed=args.seed, audio_dirs=tuple(args.audio_dir), use_system_audio=not args.no_system_audio,
        tiny=args.tiny, **_given(epochs=args.epochs, examples=args.examples, batch_size=args.batch_size),
    )


def controller_training_config(args):
    """The ``ControllerTrainingConfig`` that ``train-controller`` builds from its parsed arguments."""
    from dafx_explorer import training

    return training.ControllerTrainingConfig(
        effect=args.effect, seed=args.seed, audio_dirs=tuple(args.audio_dir),
        use_system_audio=not args.no_system_audio, tiny=args.tiny, **_given(pairs=args.pairs, epochs=args.epochs),
    )


def cmd_corpus_export(args) -> int:
    from dafx_explorer import corpus

    recordings = corpus.build(args.split, seed=args.seed, audio_dirs=tuple(args.audio_dir),
                              use_system_audio=not args.no_system_audio)
    index = corpus.export(recordings, args.out, lossy=args.lossy)
    if args.json:
        _print_json({"index": str(index), "recordings": len(recordings), "sources": corpus.origins(recordings)})
    else:
        print(f"{len(recordings)} recordings -> {index}")
    return 0


def cmd_train_encoder(args) -> int:
    from dafx_explorer import training

    result = training.train_encoder(encoder_training_config(args), out_dir=args.out, resume=args.resume,
                                    device=args.device, workers=args.workers, corpus_dir=args.corpus,
                                    scheduler=args.scheduler)
    if args.json:
        _print_json(result)
    return 0


def cmd_train_controller(args) -> int:
    from dafx_explorer import training

    result = training.train_controller(controller_training_config(args), out_dir=args.out, resume=args.resume,
                                       scheduler=args.scheduler, workers=args.workers)
    if args.json:
        _print_json(result)
    return 0


def cmd_precompute(args) -> int:
    from dafx_explorer import precompute

    if args.combined:
        precompute.precompute_combined(home=None)
        return 0
    effect = _resolve_effect(args.effect)
    out = precompute.precompute(
        effect, points=args.points, source=args.source, n_supervised=tuple(args.n_supervised),
        store_audio=args.store_audio, out=args.out, seed=args.seed, **_cluster_options(args),
    )
    print(out)
    return 0


def cmd_match(args) -> int:
    from dafx_explorer import audio, matching

    effect = _resolve_effect(args.effect)
    input_audio = audio.load(args.input)
    reference_audio = audio.load(args.reference)
    result = matching.match(effect, input_audio, reference_audio, refine_seconds=args.refine_seconds)
    audio.save(args.output, result.audio)
    payload = {"effect": effect.name, "params": effect.describe(result.final_params), "seconds": result.seconds,
               "predictor": result.predictor}
    if args.refine_seconds or result.measured:  # the final settings are not the prediction alone
        payload["predicted_params"] = effect.describe(result.params)
    if args.refine_seconds:
        payload["refine_seconds"] = result.refine_seconds
        payload["refinement"] = ("other material" if result.other_material  # what became of the search
                                 else "set aside" if result.set_aside else "searched")
    if args.json:
        _print_json(payload)
    else:
        for name, item in payload["params"].items():
            print(f"{name:<22} {item['value']:.4g} {item['unit']} (normalized {item['normalized']:.3f})")
        print(f"{result.seconds:.3f} s")
    return 0


def _read_route(text: str):
    """A route from ``--route``: JSON text, or the path of a JSON file (an exported automation too)."""
    from dafx_explorer import automation

    if not text.lstrip().startswith(("[", "{")):
        try:
            text = Path(text).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise DafxError(f"--route is neither JSON nor a readable file: {text} "
                            f"({getattr(exc, 'strerror', None) or exc})") from None
    return automation.read_route(text)


def cmd_automate(args) -> int:
    from dafx_explorer import audio, automation, inference, latent_map, store
    from dafx_explorer.settings import SAMPLE_RATE

    if args.automation and Path(args.automation).suffix.lower() not in (".csv", ".json"):
        raise DafxError(f"--automation must name a .csv or .json file, got {args.automation}")
    dataset = store.load_dataset(args.dataset)
    route = _read_route(args.route)
    samples = audio.load(args.input)
    controller = None
    if dataset.info.get("controller", True):
        bundle = inference.load_models(dataset.effect.name, str(store.settings_for().models_dir))
        controller = latent_map.LatentController(dataset, bundle)
    duration = len(samples) / SAMPLE_RATE if args.duration is None else args.duration
    step = automation.STEP_SECONDS if args.step_seconds is None else args.step_seconds
    result = automation.automate(dataset, controller, route, duration=duration, encoder=args.encoder, k=args.k,
                                 step_seconds=step)
    audio.save(args.output, automation.render(result, samples, SAMPLE_RATE))
    if args.automation:
        export = automation.automation_csv if args.automation.lower().endswith(".csv") else automation.automation_json
        Path(args.automation).write_text(export(result), encoding="utf-8")
    if args.json:
        _print_json({"dataset": dataset.name, "effect": dataset.effect.name, "duration_seconds": result.duration,
                     "steps": len(result.times), "output": str(args.output),
                     "discontinuity": automation.discontinuities(result, samples, SAMPLE_RATE)})
    else:
        print(f"{len(result.times)} steps over {result.duration:g} s -> {args.output}")
    return 0


def estimator_training_config(args):
    """The ``EstimatorTrainingConfig`` that ``train-estimator`` builds from its parsed arguments."""
    from dafx_explorer import estimator

    return estimator.EstimatorTrainingConfig(effect=args.effect, seed=args.seed, tiny=args.tiny,
                                             **_given(steps=args.steps, batch_size=args.batch_size,
                                                      across_share=args.across_share))


def cmd_train_estimator(args) -> int:
    from dafx_explorer import estimator

    result = estimator.train_estimator(estimator_training_config(args), out_dir=args.out, resume=args.resume)
    if args.json:
        _print_json(result)
    return 0


def correction_training_config(args):
    """The ``CorrectionTrainingConfig`` that ``train-correction`` builds from its parsed arguments."""
    from dafx_explorer import correction

    return correction.CorrectionTrainingConfig(effect=args.effect, seed=args.seed, tiny=args.tiny,
                                               **_given(pairs=args.pairs, epochs=args.epochs))


def cmd_train_correction(args) -> int:
    from dafx_explorer import correction

    result = correction.train_correction(correction_training_config(args), out_dir=args.out)
    if args.json:
        _print_json(result)
    return 0


def cmd_evaluate(args) -> int:
    from dafx_explorer import evaluation

    if args.real:
        return _evaluate_real(args)
    report = evaluation.evaluate(
        args.effects, pairs=args.pairs, seed=args.seed, refine_seconds=5.0 if args.refine_seconds is None
        else args.refine_seconds, across=args.across,
        audio_dirs=tuple(args.audio_dir), latent_per_effect=args.latent_renders, **_cluster_options(args),
    )
    if args.out:
        _write_report(args.out, report)
    if args.json:
        _print_json(report)
    elif args.markdown:
        print(evaluation.markdown_tables(report))
    else:
        print(evaluation.format_table(report))
    return 0


def _write_report(path: str, report: dict) -> None:
    """Write an ``evaluate`` report to ``path`` as compact JSON."""
    Path(path).write_text(json.dumps(report, separators=(",", ":")) + "\n")


def _evaluate_real(args) -> int:
    from dafx_explorer import real_benchmark

    if args.across or args.audio_dir:
        raise DafxError("--real scores both pairings on its own held-out recordings: "
                        "leave out --across and --audio-dir")
    report = real_benchmark.evaluate_real(args.effects, pairs=args.pairs, seed=args.seed,
                                          refine_seconds=args.refine_seconds or 0.0)
    if args.out:
        _write_report(args.out, report)
    if args.json:
        _print_json(report)
    else:
        print(real_benchmark.markdown(report), end="")
    return 0


def cmd_listening_set(args) -> int:
    from dafx_explorer import mushra_set

    path = mushra_set.build_listening_set(
        effects=args.effects, examples_per_effect=args.examples, seed=args.seed,
        refine_seconds=args.refine_seconds, out_path=args.out,
    )
    print(path)
    return 0


def cmd_build_default(args) -> int:
    from dafx_explorer import default_build

    try:
        default_build.build_default(args.start)
    except ValueError as exc:
        raise DafxError(str(exc)) from None
    except subprocess.CalledProcessError as exc:
        raise DafxError(f"step failed with status {exc.returncode}: {' '.join(exc.cmd[1:])}") from None
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every command."""
    parser = _Parser(prog="python -m dafx_explorer", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = commands.add_parser("effects", help="list effects and their parameters")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_effects)

    p = commands.add_parser("render", help="apply an effect to an audio file")
    p.add_argument("--effect", help="built-in effect name or path to a .vst3 plugin (optional with --preset)")
    p.add_argument("--input", required=True)
    p.add_argument("--output", required=True)
    settings = p.add_mutually_exclusive_group()
    settings.add_argument("--params", help="JSON object {name: normalized value in [0, 1]}; others default")
    settings.add_argument("--seed", type=int, help="draw unspecified parameters at random with this seed")
    settings.add_argument("--preset", help='JSON preset file: ours, or {"pedalboard": [{"Distortion": {...}}]}')
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_render)

    p = commands.add_parser("sources", help="write the shipped clips as FLAC (with --real, the real ones too)")
    p.add_argument("--out", help="folder (default: the data folder's sources/)")
    p.add_argument("--real", action="store_true",
                   help="also cut the real clips from Debian's asterisk-core-sounds-{en,it}-g722 and sonic-pi-samples")
    p.set_defaults(func=cmd_sources)

    for name, func, helptext in (
        ("train-encoder", cmd_train_encoder, "train the audio encoder (β-VAE or VQ-VAE)"),
        ("train-controller", cmd_train_controller, "train one effect's controller"),
    ):
        p = commands.add_parser(name, help=helptext)
        if name == "train-encoder":
            p.add_argument("--kind", choices=("vae", "vq"), default="vae")
            p.add_argument("--examples", type=int,
                           help="training windows rendered per epoch (default: EncoderTrainingConfig.examples)")
            p.add_argument("--batch-size", type=int, help="default: EncoderTrainingConfig.batch_size")
            p.add_argument("--epochs", type=int, help="default: EncoderTrainingConfig.epochs")
            p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                           help="where to train (auto: a CUDA GPU where PyTorch sees one)")
            p.add_argument("--corpus", help="train on a folder written by corpus-export instead of building the corpus")
        else:
            p.add_argument("--effect", required=True)
            p.add_argument("--pairs", type=int,
                           help="(input, target) training pairs (default: ControllerTrainingConfig.pairs)")
            p.add_argument("--epochs", type=int, help="default: ControllerTrainingConfig.epochs")
        p.add_argument("--audio-dir", action="append", default=[], help="extra folder of audio to train on")
        p.add_argument("--no-system-audio", action="store_true",
                       help="do not use Debian's sample packages and espeak-ng even where installed")
        p.add_argument("--seed", type=int, default=0)
        p.add_argument("--out", help="models folder (default: the data folder's models/)")
        p.add_argument("--resume", action="store_true",
                       help="continue from the last checkpoint" if name == "train-encoder" else
                       "reuse the cached training pairs of this encoder and seed, rendering only those missing")
        p.add_argument("--tiny", action="store_true", help="tiny model and data (tests, smoke runs)")
        _add_cluster_options(p, resume=False)  # the corpus rendering: the same windows and pairs for any number
        p.add_argument("--json", action="store_true")
        p.set_defaults(func=func)

    p = commands.add_parser("train-estimator", help="train one effect's style-match settings estimator")
    p.add_argument("--effect", required=True)
    p.add_argument("--steps", type=_int_at_least(1), help="default: EstimatorTrainingConfig.steps")
    p.add_argument("--batch-size", type=_int_at_least(1), help="new pairs per step (default: 32)")
    p.add_argument("--across-share", type=_share, help="share of pairs whose input is another work than "
                   "the reference's (default: EstimatorTrainingConfig.across_share)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help="models folder (default: the data folder's models/)")
    p.add_argument("--resume", action="store_true", help="continue from the last checkpoint")
    p.add_argument("--tiny", action="store_true", help="tiny model on generated clips (tests, smoke runs)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_train_estimator)

    p = commands.add_parser("train-correction", help="train the correction of an effect's shipped estimator "
                            "from sample-resolution level statistics (dynamics)")
    p.add_argument("--effect", required=True)
    p.add_argument("--pairs", type=_int_at_least(1), help="new pairs (default: CorrectionTrainingConfig.pairs)")
    p.add_argument("--epochs", type=_int_at_least(1), help="default: CorrectionTrainingConfig.epochs")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help="models folder holding the estimator (default: the data folder's models/)")
    p.add_argument("--tiny", action="store_true", help="generated clips (tests, smoke runs)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_train_correction)

    p = commands.add_parser("corpus-export", help="write the training (or held-out) corpus to a folder")
    p.add_argument("out", help="folder to write (audio files and index.json)")
    p.add_argument("--split", choices=("train", "eval"), default="train")
    p.add_argument("--lossy", action="store_true", help="Ogg Vorbis instead of FLAC (about a sixth of the size)")
    p.add_argument("--audio-dir", action="append", default=[], help="extra folder of audio to include")
    p.add_argument("--no-system-audio", action="store_true")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_corpus_export)

    p = commands.add_parser("precompute", help="build a latent-controller dataset")
    p.add_argument("--effect", help="built-in effect name or path to a .vst3 plugin")
    p.add_argument("--points", type=int, default=1000)
    p.add_argument("--source", default="guitar", help="built-in clip name or audio file")
    p.add_argument("--n-supervised", type=int, nargs="+", default=[0, 5, 10, 25, 100])
    p.add_argument("--store-audio", action="store_true")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help="dataset folder (default: the data folder's datasets/EFFECT)")
    p.add_argument("--combined", action="store_true", help="build the all-effects projection instead")
    _add_cluster_options(p)
    p.set_defaults(func=cmd_precompute)

    p = commands.add_parser("match", help="predict the settings that make INPUT sound like REFERENCE")
    p.add_argument("--effect", required=True)
    p.add_argument("--input", required=True)
    p.add_argument("--reference", required=True)
    p.add_argument("--output", required=True)
    p.add_argument("--refine-seconds", type=float, default=0.0,
                   help="search around the prediction for this long (s); helps when the reference is the same "
                        "kind of material as the input; where their textures differ too much, the prediction is "
                        "kept, with any setting measured off the reference (docs/research-log.md)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_match)

    p = commands.add_parser("automate", help="render INPUT with the settings moving along a route across a map")
    p.add_argument("--dataset", required=True, help="dataset whose map the route crosses")
    p.add_argument("--route", required=True,
                   help="JSON [[x, y], ...] in map coordinates, or a JSON file (an automation exported by the app)")
    p.add_argument("--input", required=True)
    p.add_argument("--output", required=True)
    p.add_argument("--duration", type=float, help="seconds the route takes (default: the input's length; a longer "
                                                  "route loops the input, after a shorter one the last setting holds)")
    p.add_argument("--encoder", choices=("vae", "vq"), default="vae", help="which map the route is drawn on")
    p.add_argument("--k", type=int, default=0, help="supervised points of that map (0: unsupervised)")
    p.add_argument("--step-seconds", type=float, help="time between automation steps (s; default 0.4)")
    p.add_argument("--automation", help="also write the steps' settings (real units) to this .csv or .json")
    p.add_argument("--json", action="store_true", help="print the result, with the render's discontinuity beside "
                                                       "that of fixed settings")
    p.set_defaults(func=cmd_automate)

    p = commands.add_parser("evaluate", help="objective evaluation on held-out material")
    p.add_argument("--effects", nargs="+", help="default: all eight")
    p.add_argument("--pairs", type=int, default=16)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--refine-seconds", type=float, help="refinement budget per pair (default: 5; 0 with --real)")
    p.add_argument("--across", action="store_true",
                   help="take each input from another recording than its reference (default: the same one)")
    p.add_argument("--real", action="store_true",
                   help="score style matching on held-out real recordings (a speaker and music no model "
                        "trained on), within one recording and across recordings")
    p.add_argument("--audio-dir", action="append", default=[],
                   help="evaluate on every audio file of this folder (one recording per file: its first 12 s, "
                        "looped if shorter) instead of the built-in held-out recordings; only material the models "
                        "did not train on")
    p.add_argument("--latent-renders", type=_int_at_least(5), default=60, metavar="N",
                   help="renders per class for the latent figures (k-NN accuracy, probe R²; within one window, "
                        "per effect and window); at least 5")
    p.add_argument("--out", help="also write the JSON report here")
    _add_cluster_options(p)
    output = p.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true")
    output.add_argument("--markdown", action="store_true", help="print the results and probe tables of docs/results.md")
    p.set_defaults(func=cmd_evaluate)

    p = commands.add_parser("listening-set", help="build the MUSHRA stimuli")
    p.add_argument("--effects", nargs="+", help="default: all eight")
    p.add_argument("--examples", type=int, default=3, help="examples per effect")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--refine-seconds", type=float, default=5.0)
    p.add_argument("--out", help="default: the data folder's listening_set.json")
    p.set_defaults(func=cmd_listening_set)

    p = commands.add_parser("build-default", help="rebuild the embedded default: models, datasets, listening set")
    p.add_argument("--from", dest="start", help="resume at this step (number, or command such as 'precompute')")
    p.set_defaults(func=cmd_build_default)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; return the process exit status."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except DafxError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130

"""Models and losses of event-lstm built from a `Config`: the one place that maps config fields to
constructor arguments, shared by training, evaluation and the benchmark."""

from __future__ import annotations

from sigzoo_shared import ConfigError
from torch import nn

from event_lstm.config import Config, ModelConfig
from event_lstm.event_specific import EventSpecificClassifier
from event_lstm.losses import EventSpecificLoss, EventTimingLoss
from event_lstm.model import LSTMEventClassifier
from event_lstm.pretraining import ContrastiveLSTM, LSTMAutoencoder, VariationalLSTMAutoencoder


def build_model(m: ModelConfig) -> nn.Module:
    common = {
        "input_size": m.input_size,
        "hidden_size": m.hidden_size,
        "num_layers": m.num_layers,
        "num_events": m.num_events,
        "dropout": m.dropout,
        "bidirectional": m.bidirectional,
        "timing_resolution_samples": m.timing_resolution_samples,
        "refractory_period_samples": m.refractory_period_samples,
        "downsample": m.downsample,
        "frontend_channels": m.frontend_channels,
        "remove_window_mean": m.remove_window_mean,
        "event_pooling": m.event_pooling,
    }
    if m.arch == "lstm":
        return LSTMEventClassifier(attention_heads=m.attention_heads, **common)
    return EventSpecificClassifier(
        template_length=m.template_length,
        max_delay_samples=m.max_delay_samples,
        cnn_channels=m.cnn_channels,
        cnn_out_per_event=m.cnn_out_per_event,
        timing_head_dim=m.timing_head_dim,
        timing_head_heads=m.timing_head_heads,
        event_prior=m.event_prior,
        **common,
    )


def build_loss(cfg: Config) -> EventTimingLoss:
    lc, m = cfg.loss, cfg.model
    kw = {
        "event_weight": lc.event_weight,
        "timing_weight": lc.timing_weight,
        "refractory_weight": lc.refractory_weight,
        "timing_sigma_samples": lc.timing_sigma_samples,
        "refractory_period_samples": m.refractory_period_samples,
        "tolerance_samples": 2 * m.timing_resolution_samples,
    }
    if m.arch == "lstm":
        return EventTimingLoss(**kw)
    return EventSpecificLoss(
        template_weight=lc.template_weight, template_sigma_samples=lc.template_sigma_samples, **kw
    )


def build_pretrain_model(cfg: Config, method: str) -> nn.Module:
    m, p = cfg.model, cfg.pretrain
    common = {
        "input_size": m.input_size,
        "hidden_size": m.hidden_size,
        "num_layers": m.num_layers,
        "dropout": m.dropout,
        "bidirectional": m.bidirectional,
        "downsample": m.downsample,
        "frontend_channels": m.frontend_channels,
        "remove_window_mean": m.remove_window_mean,
    }
    if method == "ae":
        return LSTMAutoencoder(latent_size=p.latent_size, **common)
    if method == "vae":
        return VariationalLSTMAutoencoder(latent_size=p.latent_size, **common)
    if method == "contrastive":
        return ContrastiveLSTM(
            projection_size=p.projection_size, temperature=p.temperature, **common
        )
    raise ConfigError(f"pretrain method {method!r}: expected one of ae, vae, contrastive")


def classifier_model(cfg: Config) -> nn.Module:
    """The classifier a training or fine-tuning run holds (`load_run`'s `build_model`)."""
    return build_model(cfg.model)


def pretraining_model(cfg: Config) -> nn.Module:
    """The encoder model a pre-training run holds: `pretrain` stores its method in `pretrain.method`."""
    return build_pretrain_model(cfg, cfg.pretrain.method)

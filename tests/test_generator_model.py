"""The chunk model's pieces: canonical frame, features, bone lengths, losses, network shapes."""

import math

import pytest
import torch

from dyad.generator.bone_lengths import bone_lengths, enforce_bone_lengths
from dyad.generator.canonical_frame import canonical_frame, from_canonical, to_canonical
from dyad.generator.config import ModelConfig, SamplingOptions
from dyad.generator.features import features_to_positions, positions_to_features
from dyad.generator.losses import (adaptive_interaction_loss, contact_loss, foot_contact_loss,
                                   pairwise_agent_distances)
from dyad.generator.model import ChunkFlowModel
from dyad.generator.modes import MODE_SPECS, parse_mode
from dyad.generator.text_conditioning import TextCondition, collate_conditions
from dyad.generator.text_encoder import TextEncoding
from dyad.errors import DyadInputError
from dyad.skeletons import BODY22_HANDS_REST, HAND21_REST_LEFT, HAND21_REST_RIGHT

TINY = ModelConfig(width=32, heads=2, denoiser_layers=1, context_layers=1, ff_mult=2,
                   chunk_frames=8, history_frames=4)


def rot_z(angle):
    c, s = math.cos(angle), math.sin(angle)
    return torch.tensor([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]], dtype=torch.float64)


def duet_pose():
    a = torch.tensor(BODY22_HANDS_REST)
    b = a @ rot_z(math.pi).T + torch.tensor([1.2, 0.0, 0.0], dtype=torch.float64)
    return torch.stack([a, b])  # (2, 62, 3)


def bimanual_pose():
    return torch.stack([torch.tensor(HAND21_REST_LEFT) + torch.tensor([0.3, 0.15, 1.0]),
                        torch.tensor(HAND21_REST_RIGHT) + torch.tensor([0.3, -0.15, 1.0])])


def test_canonical_frame_puts_root_at_origin_facing_plus_x():
    pose = duet_pose()
    yaw, shift = 2.1, torch.tensor([3.0, -4.0, 0.0], dtype=torch.float64)
    moved = pose @ rot_z(yaw).T + shift
    origin, heading = canonical_frame(moved[None], MODE_SPECS["duet"])
    assert torch.allclose(origin[0], torch.tensor([3.0, -4.0, 0.0], dtype=torch.float64),
                          atol=1e-9)
    assert heading[0].item() == pytest.approx(yaw, abs=1e-9)
    canon = to_canonical(moved[None], origin, heading)[0]
    # Same as the unmoved pose: pelvis of A above the origin, A faces +X, B in front of A.
    assert torch.allclose(canon, pose, atol=1e-9)
    assert canon[1, 0, 0] > 1.0


def test_canonical_round_trip_over_batch_and_time():
    gen = torch.Generator().manual_seed(0)
    points = torch.randn(3, 7, 2, 62, 3, generator=gen, dtype=torch.float64)
    origin = torch.randn(3, 3, generator=gen, dtype=torch.float64)
    origin[:, 2] = 0
    yaw = torch.randn(3, generator=gen, dtype=torch.float64) * 3
    back = from_canonical(to_canonical(points, origin, yaw), origin, yaw)
    assert torch.allclose(back, points, atol=1e-12)
    # Rotation about Z keeps heights and distances.
    canon = to_canonical(points, origin, yaw)
    assert torch.allclose(canon[..., 2], points[..., 2])
    d0 = (points[..., 0, :] - points[..., 5, :]).norm(dim=-1)
    d1 = (canon[..., 0, :] - canon[..., 5, :]).norm(dim=-1)
    assert torch.allclose(d0, d1, atol=1e-12)


def test_bimanual_frame_removes_translation_only():
    pose = bimanual_pose()
    moved = pose + torch.tensor([0.5, 0.2, 0.0], dtype=torch.float64)
    origin, yaw = canonical_frame(moved[None], MODE_SPECS["bimanual"])
    assert yaw[0].item() == 0.0
    canon = to_canonical(moved[None], origin, yaw)[0]
    mid = (canon[0, 0] + canon[1, 0]) / 2
    assert mid[:2].abs().max() < 1e-9 and mid[2].item() == pytest.approx(1.0)


def test_canonical_frame_rejects_mismatched_batch():
    with pytest.raises(ValueError, match="batch shape"):
        to_canonical(torch.zeros(4, 2, 21, 3), torch.zeros(3, 3), torch.zeros(3))


@pytest.mark.parametrize("mode", ["duet", "bimanual"])
def test_features_round_trip_and_locality(mode):
    spec = MODE_SPECS[mode]
    pose = duet_pose() if mode == "duet" else bimanual_pose()
    feats = positions_to_features(pose, spec)
    assert feats.shape == (2, spec.feature_dim)
    assert torch.allclose(features_to_positions(feats, spec), pose, atol=1e-12)
    # Moving the whole pose changes only the absolute joints' features.
    moved = positions_to_features(pose + torch.tensor([1.0, 2.0, 0.5], dtype=torch.float64),
                                  spec)
    changed = (moved - feats).abs().reshape(2, spec.num_joints, 3).amax(dim=(0, 2)) > 1e-9
    assert changed.tolist() == [r < 0 for r in spec.local_reference]


def test_enforce_bone_lengths_restores_lengths_and_directions():
    spec = MODE_SPECS["duet"]
    pose = duet_pose()[0]
    target = bone_lengths(pose, spec.parents)
    gen = torch.Generator().manual_seed(1)
    noisy = pose + 0.01 * torch.randn(pose.shape, generator=gen, dtype=torch.float64)
    fixed = enforce_bone_lengths(noisy, spec.parents, target)
    assert torch.allclose(bone_lengths(fixed, spec.parents), target, atol=1e-9)
    assert torch.allclose(fixed[0], noisy[0])  # the root stays
    # Small noise only nudges joints: the rebuilt pose stays within a few cm.
    assert (fixed - noisy).norm(dim=-1).max() < 0.1


def test_interaction_loss_weights_close_joints_more():
    pose = bimanual_pose().float()[None, None]  # (1, 1, 2, 21, 3)
    far = pose.clone()
    far[..., 1, :, 1] -= 0.5  # right hand 0.5 m further away
    base = adaptive_interaction_loss(pose, pose)
    assert base.item() == pytest.approx(0.0, abs=1e-6)
    # The same 1 cm error costs more when the hands are close than when they are far apart.
    shifted_near, shifted_far = pose.clone(), far.clone()
    shifted_near[..., 1, :, 1] += 0.01
    shifted_far[..., 1, :, 1] += 0.01
    near_loss = adaptive_interaction_loss(shifted_near, pose).item()
    far_loss = adaptive_interaction_loss(shifted_far, far).item()
    assert near_loss > 0 and far_loss > 0
    d = pairwise_agent_distances(pose)
    assert d.shape == (1, 1, 21, 21)
    w_near = (1 / (d + 0.1)).mean().item()
    assert w_near > (1 / (pairwise_agent_distances(far) + 0.1)).mean().item()
    # Gradients stay finite when joints of the two agents coincide.
    same = pose.clone().requires_grad_(True)
    together = same.clone()
    loss = adaptive_interaction_loss(torch.cat([together[:, :, :1], together[:, :, :1]], 2),
                                     pose)
    loss.backward()
    assert torch.isfinite(same.grad).all()


def test_foot_contact_loss_counts_only_planted_feet():
    vel_true = torch.zeros(1, 4, 2, 62, 3)
    vel_true[:, :, :, 7, 0] = 0.05  # left ankle moves in truth: not planted
    vel_pred = torch.zeros_like(vel_true)
    vel_pred[:, :, :, 7, 0] = 0.05
    assert foot_contact_loss(vel_pred, vel_true, (7, 8)).item() == pytest.approx(0.0)
    vel_pred[:, :, :, 8, 0] = 0.02  # right ankle slides while truly planted
    assert foot_contact_loss(vel_pred, vel_true, (7, 8)).item() == pytest.approx(0.02)


def _text_batch(n):
    enc = TextEncoding(tokens=torch.randn(5, 384), sentence=torch.nn.functional.normalize(
        torch.randn(384), dim=0))
    conds = [TextCondition({"overall": enc}), TextCondition({"overall": enc, "agent1": enc}),
             None][:n]
    return collate_conditions(conds, TINY.max_text_tokens)


def test_word_dropout_hides_tokens_but_keeps_sentences():
    tb = collate_conditions([TextCondition({"overall": TextEncoding(
        tokens=torch.randn(40, 384), sentence=torch.randn(384))}) for _ in range(64)], 64)
    g = torch.Generator().manual_seed(0)
    assert torch.equal(tb.drop_words(0.0, 0.0, g).token_mask, tb.token_mask)
    off = tb.drop_words(0.0, 1.0, g)
    assert not off.token_mask.any()
    assert torch.equal(off.sentence_mask, tb.sentence_mask) and not off.dropped.any()
    some = tb.drop_words(0.25, 0.0, g)
    assert not (some.token_mask & ~tb.token_mask).any()  # never shows a padded slot
    hidden = 1.0 - some.token_mask.sum().item() / tb.token_mask.sum().item()
    assert 0.2 < hidden < 0.3
    whole = tb.drop_words(0.0, 0.5, g).token_mask.any(dim=1).float().mean().item()
    assert 0.3 < whole < 0.7


@pytest.mark.parametrize("mode", ["duet", "bimanual"])
def test_model_shapes_and_history_sensitivity(mode):
    torch.manual_seed(0)
    model = ChunkFlowModel(TINY, ("duet", "bimanual"))
    with torch.no_grad():  # leave the zero init so outputs depend on the inputs
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    spec = MODE_SPECS[mode]
    text = _text_batch(3)
    assert text.dropped.tolist() == [False, False, True]
    assert text.token_mask.sum(1).tolist() == [5, 10, 0]
    tctx = model.encode_text(text)
    hist = torch.randn(3, 2, TINY.history_frames, spec.feature_dim)
    valid = torch.tensor([True, True, False])
    ctx = model.encode_context(tctx, mode, hist, valid, torch.zeros(3))
    noisy = torch.randn(3, 2, TINY.chunk_frames, spec.feature_dim)
    out = model.denoise(ctx, mode, noisy, torch.full((3,), 0.5))
    assert out.shape == noisy.shape and torch.isfinite(out).all()
    ctx2 = model.encode_context(tctx, mode, hist + 1.0, valid, torch.zeros(3))
    out2 = model.denoise(ctx2, mode, noisy, torch.full((3,), 0.5))
    moved = (out2 - out).abs().amax(dim=(1, 2, 3))
    assert moved[0] > 1e-6 and moved[1] > 1e-6
    assert moved[2] == 0  # no history: its values are ignored


def test_contact_loss_counts_only_pairs_that_touch_in_the_truth():
    pose = bimanual_pose().float()[None, None]  # hands 30 cm apart: no pair touches
    apart = pose.clone()
    apart[..., 1, :, 1] -= 0.1
    d = lambda x: pairwise_agent_distances(x)  # noqa: E731
    assert contact_loss(d(apart), d(pose)).item() == 0.0  # nothing touches in the truth
    touching = pose.clone()
    touching[..., 1, :, :] = touching[..., 0, :, :] + torch.tensor([0.0, 0.0, 0.02])
    # The prediction leaves every touching pair 10 cm further apart than the truth.
    pred = touching.clone()
    pred[..., 1, :, 2] += 0.1
    loss = contact_loss(d(pred), d(touching)).item()
    assert 0.05 < loss < 0.11
    assert contact_loss(d(touching), d(touching)).item() == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("mode", ["duet", "bimanual"])
def test_residual_output_starts_where_the_history_ends(mode):
    """With ``residual_to_history`` a fresh model (zero output layer) continues the last
    history frame exactly: chunk boundaries are continuous by construction. Without history
    (the first chunk) it outputs the mean pose (zero in normalised units)."""
    model = ChunkFlowModel(TINY, ("duet", "bimanual"))
    spec = MODE_SPECS[mode]
    hist = torch.randn(2, 2, TINY.history_frames, spec.feature_dim)
    valid = torch.tensor([True, False])
    ctx = model.encode_context(model.encode_text(_text_batch(2)), mode, hist, valid,
                               torch.zeros(2))
    out = model.denoise(ctx, mode, torch.randn(2, 2, TINY.chunk_frames, spec.feature_dim),
                        torch.full((2,), 0.5))
    assert torch.equal(out[0], hist[0, :, -1:].expand_as(out[0]))
    assert torch.equal(out[1], torch.zeros_like(out[1]))


def test_checkpoints_without_the_residual_flag_load_without_it():
    old = {k: v for k, v in TINY.as_dict().items() if k != "residual_to_history"}
    assert ModelConfig.from_dict(old).residual_to_history is False
    assert ModelConfig.from_dict(TINY.as_dict()).residual_to_history is True


def test_model_rejects_unserved_mode():
    model = ChunkFlowModel(TINY, ("bimanual",))
    with pytest.raises(ValueError, match="serves"):
        model.encode_context(model.encode_text(_text_batch(1)), "duet",
                             torch.zeros(1, 2, 4, 186), torch.ones(1, dtype=torch.bool),
                             torch.zeros(1))


def test_config_and_options_validation():
    with pytest.raises(DyadInputError, match="chunk_frames"):
        ModelConfig(chunk_frames=20)
    with pytest.raises(DyadInputError, match="history_frames"):
        ModelConfig(chunk_frames=8, history_frames=9)
    with pytest.raises(DyadInputError, match="steps"):
        SamplingOptions(steps=9)
    with pytest.raises(DyadInputError, match="unknown model config"):
        ModelConfig.from_dict({"width": 64, "colour": 3})
    assert ModelConfig.from_dict(TINY.as_dict()) == TINY
    assert parse_mode(" Duet ") == "duet"
    with pytest.raises(DyadInputError, match="unknown mode"):
        parse_mode("trio")
    with pytest.raises(DyadInputError):
        parse_mode("auto", allow_auto=False)


def test_default_model_fits_the_size_budget():
    model = ChunkFlowModel(ModelConfig())
    params = sum(p.numel() for p in model.parameters())
    assert 1_000_000 < params < 10_000_000  # float32 <= 40 MB

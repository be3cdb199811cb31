"""What a concat makes of a clip: the whole song its chain of extensions (or its infill) adds up to.

- is_infill false: the clip must be an extension (extend / upload_extend). The song is its parent's audio up
  to continue_at, then the extension's own audio: duration = continue_at + the extension's duration. When the
  parent is itself an extension, the song follows the chain back to its root: root[0:c1] + ext1[0:c2] + ext2,
  each continue_at being a time in the clip it extended (so the length is c1 + c2 + ext2's duration).
- is_infill true: the clip must be an infill clip of range [start, end) of its parent; the song is the
  parent's audio before start, the infill, then the parent's audio from end: the parent's length again."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .api_errors import field_error
from .audio_recipe import Recipe, cut_recipe, recipe_seconds
from .task_records import ClipRecord

EXTENSION_MODES = ("extend", "upload_extend")
MAX_CHAIN = 50  # extensions of extensions; guards against a cycle


@dataclass(frozen=True)
class ConcatPlan:
    clip: ClipRecord  # the clip named by clip_id
    recipe: Recipe
    duration: float
    prompt: str  # the lyrics of every part, in order, each once


def _joined_prompts(prompts: list[str]) -> str:
    kept: list[str] = []
    for prompt in prompts:
        if prompt.strip() and prompt not in kept:
            kept.append(prompt)
    return "\n\n".join(kept)


def _song_of(clip: ClipRecord, find_clip: Callable[[str], ClipRecord | None]) -> tuple[Recipe, list[str]]:
    """The recipe and lyrics of the whole song ending with `clip`, following extensions back to their root."""
    chain = [clip]
    while chain[-1].mode in EXTENSION_MODES and chain[-1].parent_clip_id and len(chain) <= MAX_CHAIN:
        parent = find_clip(chain[-1].parent_clip_id)
        if parent is None:
            break
        chain.append(parent)
    root = chain.pop()
    recipe, prompts = root.recipe, [root.prompt]
    last_part_starts = 0.0  # where the clip extended next begins in the song so far
    for extension in reversed(chain):
        # continue_at is a time in the extended clip's own audio, which is the song's last part.
        kept = last_part_starts + (extension.continue_at or 0.0)
        recipe = cut_recipe(recipe, 0.0, kept) + extension.recipe
        last_part_starts = kept
        prompts.append(extension.prompt)
    return recipe, prompts


def plan_concat(
    clip_id: str,
    is_infill: bool,
    find_clip: Callable[[str], ClipRecord | None],
    is_complete: Callable[[str], bool],
) -> ConcatPlan:
    clip = find_clip(clip_id)
    if clip is None:
        raise field_error("clip_id", f"unknown clip {clip_id!r}")
    if not is_complete(clip.clip_id):
        raise field_error("clip_id", f"clip {clip_id!r} is not complete yet")
    parent = find_clip(clip.parent_clip_id) if clip.parent_clip_id else None
    if is_infill:
        if clip.mode != "infill" or parent is None or clip.edit_range is None:
            raise field_error("is_infill", f"clip {clip_id!r} is a {clip.mode} clip, not an infill clip")
        start, end = clip.edit_range
        recipe = cut_recipe(parent.recipe, 0.0, start) + clip.recipe + cut_recipe(parent.recipe, end, parent.duration)
        prompts = [parent.prompt, clip.prompt]
    else:
        if clip.mode not in EXTENSION_MODES or parent is None:
            hint = "; concat it with is_infill true" if clip.mode == "infill" else ""
            raise field_error("clip_id", f"clip {clip_id!r} is a {clip.mode} clip, not an extension{hint}")
        recipe, prompts = _song_of(clip, find_clip)
    return ConcatPlan(clip, recipe, round(recipe_seconds(recipe), 2), _joined_prompts(prompts))

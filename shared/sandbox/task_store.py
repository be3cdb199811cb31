"""All tasks and clips the sandbox made, behind one lock; what leaves it are copies or rendered dicts."""

from __future__ import annotations

import copy
import threading
from typing import Any, NamedTuple

from .public_shapes import feed_clip, render_clip, render_song, render_task
from .task_records import COMPLETE, FAILED, SUNO_ACTIONS, UDIO, ClipRecord, TaskRecord
from .validation import ClipFacts


class StepOutcome(NamedTuple):
    """What one state change produced: the task object to announce and when the next change is due."""

    task_id: str
    notify_hook: str
    task_object: dict[str, Any]
    next_due: float | None


class MediaClip(NamedTuple):
    """A copy of a clip, with what serving its files needs to know about its task."""

    clip: ClipRecord
    task_status: str
    action: str
    media_base_url: str


class TaskStore:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tasks: dict[str, TaskRecord] = {}
        self._clips: dict[str, ClipRecord] = {}

    def add(self, task: TaskRecord) -> None:
        with self._lock:
            self._tasks[task.task_id] = task
            for clip in task.clips:
                self._clips[clip.clip_id] = clip

    def clear(self) -> None:
        with self._lock:
            self._tasks.clear()
            self._clips.clear()

    def render(self, task_id: str) -> dict[str, Any] | None:
        """A Suno task (MUSIC or LYRICS) as GET /suno/fetch/<id> shows it; Udio generations are not tasks there."""
        with self._lock:
            task = self._tasks.get(task_id)
            return render_task(task) if task and task.action in SUNO_ACTIONS else None

    def render_udio_songs(self, generation_ids: list[str]) -> list[dict[str, Any]]:
        """The songs of the Udio generations asked for, in that order; unknown ids are skipped."""
        with self._lock:
            found = (self._tasks.get(generation_id) for generation_id in generation_ids)
            return [render_song(clip, task) for task in found if task and task.action == UDIO for clip in task.clips]

    def render_feed_clips(self, clip_ids: list[str]) -> dict[str, dict[str, Any]]:
        """Known clips in Suno's feed shape (persona answers), by id."""
        with self._lock:
            rendered = {}
            for clip_id in clip_ids:
                clip = self._clips.get(clip_id)
                if clip is not None:
                    task = self._tasks[clip.task_id]
                    rendered[clip_id] = feed_clip(render_clip(clip, task), task.submit_time)
            return rendered

    def render_many(self, task_ids: list[str], action: str) -> list[dict[str, Any]]:
        """Tasks of that action, in the order asked; unknown ids and other actions are skipped."""
        with self._lock:
            found = (self._tasks.get(task_id) for task_id in task_ids)
            return [render_task(task) for task in found if task is not None and task.action == action]

    def internal_view(self, task_id: str) -> dict[str, Any] | None:
        with self._lock:
            task = self._tasks.get(task_id)
            if task is None:
                return None
            view = task.internal_view()
            view["task"] = render_task(task)
            return view

    def summaries(self) -> list[dict[str, Any]]:
        with self._lock:
            return [
                {"task_id": t.task_id, "action": t.action, "mode": t.mode, "status": t.status}
                for t in self._tasks.values()
            ]

    def clip_facts(self, clip_id: str) -> ClipFacts | None:
        with self._lock:
            clip = self._clips.get(clip_id.strip())
            if clip is None:
                return None
            task = self._tasks[clip.task_id]
            return ClipFacts(clip.clip_id, clip.task_id, clip.duration, task.status == COMPLETE)

    def clip_copy(self, clip_id: str) -> ClipRecord | None:
        with self._lock:
            clip = self._clips.get(clip_id.strip())
            return copy.deepcopy(clip) if clip else None

    def clip_view(self, clip_id: str) -> MediaClip | None:
        with self._lock:
            clip = self._clips.get(clip_id.strip())
            if clip is None:
                return None
            task = self._tasks[clip.task_id]
            return MediaClip(copy.deepcopy(clip), task.status, task.action, task.media_base_url)

    def clip_for_media(self, clip_id: str) -> MediaClip | None:
        """A clip whose audio/cover may be served: its task has started and not failed."""
        with self._lock:
            clip = self._clips.get(clip_id)
            if clip is None:
                return None
            task = self._tasks[clip.task_id]
            if not task.start_time or task.status == FAILED:
                return None
            return MediaClip(copy.deepcopy(clip), task.status, task.action, task.media_base_url)

    def is_complete(self, clip_id: str) -> bool:
        with self._lock:
            clip = self._clips.get(clip_id)
            return clip is not None and self._tasks[clip.task_id].status == COMPLETE

    def mark_ambiguous(self, task_id: str) -> None:
        with self._lock:
            if task_id in self._tasks:
                self._tasks[task_id].ambiguous = True

    def note_callback(self, task_id: str, entry: dict[str, Any]) -> None:
        with self._lock:
            task = self._tasks.get(task_id)
            if task is not None:
                task.callbacks.append(entry)

    def advance_due(self, task_id: str, now: float) -> StepOutcome | None:
        """Apply the task's next planned state change if it is due; None if nothing changed."""
        with self._lock:
            task = self._tasks.get(task_id)
            if task is None or not task.plan or task.plan[0].due > now:
                return None
            task.apply_step(task.plan.pop(0), now)
            next_due = task.plan[0].due if task.plan else None
            return StepOutcome(task.task_id, task.notify_hook, render_task(task), next_due)

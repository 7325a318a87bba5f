"""The broadcast player's jitter buffer (``static/app/stream_worklet.js``) alone, in real Chromium, rendered by an
``OfflineAudioContext``: audio time is then exact and the machine's load cannot move it. The context suspends at
chosen render times and the test posts the PCM a node's chunk would bring (a 0.3-amplitude 440 Hz sine, continuous
across chunks) at that moment, waiting for the processor's answer before rendering goes on. The rendered output is
then read like a listener would hear it: where the silences are, and how far any sample jumps from the one before
(a continuous 440 Hz sine moves at most 0.017 a sample; a click moves up to 0.6).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import Page, async_playwright

from tests.support.browser import launch_browser
from tests.support.fake_stream_node import running_fake_node

pytestmark = pytest.mark.asyncio(loop_scope="module")

RATE = 48000
PACKET = 960  # 20 ms
CHUNK_MS = 60
SMOOTH = 0.05  # the largest step between two samples that is not a click (sine: 0.017, crossfades and fades: < 0.03)
# At most this loud within 16 samples of a silence: faded (2.5 ms fades: 16/120 of 0.3). Cut dead, a sine reaches
# 0.24 within 16 samples of any point.
FADED = 0.045

# plan: [{at: seconds, messages: [...]}]; a message is {type: 'pcm', frames} (the sine's next frames), {type: 'gap',
# frames} (the sine goes on unheard), or any other message as it is. Returns the processor's numbers after each step,
# the silent runs (≥ 1 ms of exact zeros) after the first sound, how loud their edges are, the largest
# sample-to-sample step, and the end's numbers.
RENDER_JS = """
async ({ plan, seconds }) => {
  const ctx = new OfflineAudioContext({ numberOfChannels: 2, length: 48000 * seconds, sampleRate: 48000 });
  await ctx.audioWorklet.addModule('/static/app/stream_worklet.js');
  const node = new AudioWorkletNode(ctx, 'salon-stream', { numberOfInputs: 0, outputChannelCount: [2] });
  node.connect(ctx.destination);
  const waiting = new Map();
  let asked = 0;
  node.port.onmessage = (event) => { waiting.get(event.data.id)(event.data); waiting.delete(event.data.id); };
  const stats = () => new Promise((resolve) => {
    asked += 1;
    waiting.set(asked, resolve);
    node.port.postMessage({ type: 'stats', id: asked });
  });
  let phase = 0;
  const sine = (frames) => {
    const pcm = new Float32Array(frames);
    for (let i = 0; i < frames; i += 1) pcm[i] = 0.3 * Math.sin((2 * Math.PI * 440 * (phase + i)) / 48000);
    phase += frames;
    return pcm;
  };
  const steps = [];
  for (const step of plan) {
    ctx.suspend(step.at).then(async () => {
      const before = await stats();
      for (const message of step.messages) {
        if (message.type === 'pcm') {
          const pcm = sine(message.frames);
          node.port.postMessage({ type: 'pcm', planes: [pcm] }, [pcm.buffer]);
        } else {
          if (message.type === 'gap') phase += message.frames;
          node.port.postMessage(message);
        }
      }
      steps.push({ at: step.at, before, after: await stats() }); // answered after the messages: they all arrived
      ctx.resume();
    });
  }
  const rendered = await ctx.startRendering();
  const [left, right] = [rendered.getChannelData(0), rendered.getChannelData(1)];
  let first = -1;
  let jump = 0;
  let sameChannels = true;
  const silences = [];
  let zeros = 0;
  for (let i = 0; i < left.length; i += 1) {
    if (left[i] !== right[i]) sameChannels = false;
    if (first < 0) {
      if (left[i] !== 0) first = i;
      continue;
    }
    jump = Math.max(jump, Math.abs(left[i] - left[i - 1]));
    if (left[i] === 0) zeros += 1;
    else {
      if (zeros >= 48) silences.push([i - zeros, zeros]);
      zeros = 0;
    }
  }
  // The loudest of the 16 samples on each side of each silence: a fade makes them small, a cut would not.
  const loudest = (from, to) => Math.max(...Array.from(left.slice(Math.max(0, from), to), Math.abs));
  const edges = silences.flatMap(([at, length]) => [loudest(at - 16, at), loudest(at + length, at + length + 16)]);
  return { steps, first, jump, sameChannels, silences, edges, end: await stats() };
}
"""


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def page(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Page]:
    """One browser for the module, on the stand-in node's page (it serves the app's static files)."""
    async with running_fake_node([]) as node, async_playwright() as playwright:
        browser = await launch_browser(playwright, tmp_path_factory.mktemp("stream-worklet"), "worklet", None)
        try:
            page = await browser.new_page()
            await page.goto(f"{node.base_url}/")
            yield page
        finally:
            await browser.close()


def chunks(start: float, end: float, every_ms: int = CHUNK_MS, first: float = 0.0) -> list[dict[str, Any]]:
    """A node's writes from ``start`` to ``end`` (seconds): one every ``every_ms``, each of that much audio in 20 ms
    packets."""
    steps = []
    at = start
    while at < end - 1e-9:
        steps.append({"at": round(at, 6), "messages": [{"type": "pcm", "frames": PACKET}] * (every_ms // 20)})
        at += every_ms / 1000
    return steps


def config(chunk_ms: int) -> dict[str, Any]:
    return {"type": "config", "chunkMs": chunk_ms}


async def render(page: Page, plan: list[dict[str, Any]], seconds: float) -> dict[str, Any]:
    result: dict[str, Any] = await page.evaluate(RENDER_JS, {"plan": plan, "seconds": seconds})
    return result


async def test_a_steady_stream_plays_without_a_hole_and_settles_near_its_margin(page: Page) -> None:
    plan = chunks(0.0, 6.0)
    plan[0]["messages"] = [config(CHUNK_MS), *plan[0]["messages"]]
    result = await render(page, plan, 6.0)
    end = result["end"]
    assert result["sameChannels"], "mono comes out on both channels"
    # Waits for one chunk plus the 20 ms margin: the first write (60 ms) is not enough, the second is.
    assert RATE * 0.06 <= result["first"] <= RATE * 0.06 + 256
    assert end["starts"] == 1
    assert end["underruns"] == 0
    assert result["silences"] == [], "no hole once playing"
    assert result["jump"] < SMOOTH, "no click, cuts included"
    # It started with two chunks (120 ms) where one and the margin (80 ms) do: the surplus went, in 2.5 ms cuts.
    assert 30 <= end["skippedMs"] <= 45
    troughs = [step["before"]["bufferedMs"] for step in result["steps"][-20:]]  # just before each write
    assert 15 <= min(troughs) <= max(troughs) <= 25, f"the buffer's low point settled at the 20 ms margin: {troughs}"


async def test_late_audio_is_an_underrun_that_grows_the_margin_and_then_stops(page: Page) -> None:
    # Steady, then three writes held back 150 ms and delivered at once, then steady again.
    plan = [*chunks(0.0, 3.0), {"at": 3.15, "messages": [{"type": "pcm", "frames": PACKET}] * 9}, *chunks(3.18, 11.0)]
    plan[0]["messages"] = [config(CHUNK_MS), *plan[0]["messages"]]
    result = await render(page, plan, 11.0)
    end = result["end"]
    assert end["underruns"] == 1
    assert end["marginMs"] == 40, "one underrun: 20 ms more margin"
    assert end["starts"] == 2
    ((start, length),) = result["silences"]
    assert 3.0 * RATE < start < 3.15 * RATE, "the one silence is where the audio came late"
    print(f"late audio: silent {1000 * length / RATE:.0f} ms; the buffer then cut {end['skippedMs']} ms in all")
    assert result["jump"] < SMOOTH, "fading out as it ran dry and back in: no click"
    assert max(result["edges"]) < FADED, "the sound faded into the silence and out of it"
    troughs = [step["before"]["bufferedMs"] for step in result["steps"][-20:]]
    # The late audio came in a heap (180 ms at once): the surplus goes at 25 ms a second, then it settles.
    assert 35 <= min(troughs) <= max(troughs) <= 45, f"the low point settled at the new margin: {troughs}"


async def test_the_margin_decays_after_a_long_calm(page: Page) -> None:
    # An underrun at 1 s (a write 150 ms late), then 45 s of steady writes: after 30 s of calm, 5 ms every 10 s.
    plan = [*chunks(0.0, 1.0), {"at": 1.15, "messages": [{"type": "pcm", "frames": PACKET}] * 9}, *chunks(1.18, 46.0)]
    plan[0]["messages"] = [config(CHUNK_MS), *plan[0]["messages"]]
    result = await render(page, plan, 46.0)
    margins = {round(step["at"]): step["after"]["marginMs"] for step in result["steps"]}
    assert result["end"]["underruns"] == 1
    assert (margins[2], margins[30], margins[33], margins[43], margins[45]) == (40, 40, 35, 30, 30)
    assert result["silences"][1:] == [], "no underrun as the margin came down"


async def test_a_gap_is_silence_of_its_exact_length(page: Page) -> None:
    # Late enough that the start's surplus is gone: a shrink step would cut 2.5 ms of the silence too.
    plan = chunks(0.0, 6.0)
    plan[0]["messages"] = [config(CHUNK_MS), *plan[0]["messages"]]
    hole = 5 * PACKET  # 100 ms
    plan[80]["messages"] = [{"type": "pcm", "frames": PACKET}, {"type": "gap", "frames": hole}]
    result = await render(page, plan, 6.0)
    skipped_before = next(step for step in result["steps"] if step["at"] == plan[80]["at"])["before"]["skippedMs"]
    assert result["end"]["skippedMs"] == skipped_before, "no cut since the hole"
    ((_, length),) = result["silences"]
    # The fade-out before the hole ends one sample short of zero; the fade-in after it starts at zero.
    assert length == hole + 1, "exact zeros for the hole, no more, no less"
    assert max(result["edges"]) < FADED, "faded into the hole and out of it"
    assert result["end"]["gapMs"] == 100
    assert result["end"]["underruns"] == 0, "a hole is played as silence, not taken for running dry"
    assert result["jump"] < SMOOTH


async def test_a_flood_is_cut_at_once_to_the_target(page: Page) -> None:
    # Two seconds of audio at once (a context that was suspended while the stream went on), then steady.
    flood = {"at": 0.0, "messages": [config(CHUNK_MS)] + [{"type": "pcm", "frames": PACKET}] * 100}
    result = await render(page, [flood, *chunks(CHUNK_MS / 1000, 5.0)], 5.0)
    end = result["end"]
    assert end["skippedMs"] > 1500, "the surplus went in one cut, not 25 ms a second"
    assert end["underruns"] == 0
    assert result["jump"] < SMOOTH
    troughs = [step["before"]["bufferedMs"] for step in result["steps"][-10:]]
    assert max(troughs) <= 25, f"and the low point is back at the margin: {troughs}"


async def test_a_reset_drops_what_is_buffered_and_waits_again(page: Page) -> None:
    plan = chunks(0.0, 1.0)
    plan[0]["messages"] = [config(CHUNK_MS), *plan[0]["messages"]]
    plan += [{"at": 1.0, "messages": [{"type": "reset"}]}, *chunks(1.5, 2.5)]
    result = await render(page, plan, 2.5)
    reset = next(step for step in result["steps"] if step["at"] == 1.0)
    assert reset["after"]["bufferedMs"] == 0
    assert not reset["after"]["playing"]
    assert result["end"]["starts"] == 2
    assert result["end"]["underruns"] == 0, "a reset is not an underrun"
    assert result["jump"] < SMOOTH, "the old stream faded out"

// The room's "Sound" dialog: the room's volume on this device, "Volume per speaker" for listeners (each speaker on a
// track of their own, speaker_volumes.js; their volumes are set on their cards), and how one's microphone is
// processed (voice or music mode).

import { musicMode, roomVolume, setMusicMode, setRoomVolume } from "../audio.js";
import {
  MAX_VOLUME,
  SHARED_TRACK,
  setSpeakerMixOn,
  setSpeakerVolume,
  speakerMixOn,
  speakerMixRefusal,
  speakerVolume,
} from "../speaker_volumes.js";
import { h } from "../dom.js";
import { addStrings, lang, t } from "../i18n.js";
import strings from "./room_sound.strings.js";

addStrings(strings);

let dialogCount = 0;

/** onStage(): whether the person is on stage now (the microphone choice then applies at once); audio: the room's
 * RoomAudio (whether the per-speaker mix is on, or was refused). */
export function soundDialog({ onStage, audio }) {
  const id = `sound-${++dialogCount}`;
  const percent = (value) => new Intl.NumberFormat(lang(), { style: "percent" }).format(value);
  const shown = h("output", { for: `${id}-volume`, "data-testid": "volume-value" }, percent(roomVolume()));
  const slider = h("input", {
    id: `${id}-volume`,
    type: "range",
    min: "0",
    max: "100",
    step: "5",
    value: String(Math.round(roomVolume() * 100)),
    "aria-describedby": `${id}-volume-hint`,
    oninput: (event) => {
      const value = Number(event.target.value) / 100;
      setRoomVolume(value);
      shown.textContent = percent(value);
    },
  });
  const status = h("p.muted.small", { role: "status", "data-testid": "sound-status" });
  const choice = (value, title, hint) =>
    h(
      "label.choice",
      {},
      h("input", {
        type: "radio",
        name: `${id}-processing`,
        value,
        checked: musicMode() === (value === "music"),
        onchange: () => {
          setMusicMode(value === "music");
          const now = onStage() ? "sound.applied_now" : "sound.applied_later";
          status.textContent = `${t(value === "music" ? "sound.music_on" : "sound.voice_on")} ${t(now)}`;
        },
      }),
      h("span", {}, h("strong", {}, title), h("span.hint", {}, hint)),
    );
  const perSpeaker = speakerMixPart(id, onStage, audio);
  const dialog = h(
    "dialog.sound-dialog",
    { "aria-labelledby": `${id}-title`, "data-testid": "sound-dialog" },
    h("h2", { id: `${id}-title` }, t("sound.title")),
    h(
      "div.volume-row",
      {},
      h("label", { for: `${id}-volume` }, t("sound.volume")),
      shown,
    ),
    slider,
    h("p.muted.small", { id: `${id}-volume-hint` }, t("sound.volume_hint")),
    perSpeaker.el,
    h(
      "fieldset",
      {},
      h("legend", {}, t("sound.mic")),
      choice("voice", t("sound.voice"), t("sound.voice_hint")),
      choice("music", t("sound.music"), t("sound.music_hint")),
      status,
    ),
    h("div.actions", {}, h("button", { type: "button", onclick: () => dialog.close() }, t("app.close"))),
  );
  dialog.addEventListener("close", () => {
    perSpeaker.stop();
    dialog.remove();
  });
  queueMicrotask(() => dialog.showModal());
  return dialog;
}

/** The "Volume per speaker" switch, remembered on this device. For listeners: on stage one hears the others through
 * one's own connection. Its status follows the connection (on, or refused for want of room: one mix instead). */
function speakerMixPart(id, onStage, audio) {
  const status = h("p.small", { role: "status", "data-testid": "speaker-mix-status" });
  const input = h("input", {
    id: `${id}-per-speaker`,
    type: "checkbox",
    role: "switch",
    checked: speakerMixOn(),
    "aria-labelledby": `${id}-per-speaker-label`,
    "aria-describedby": `${id}-per-speaker-hint`,
    onchange: () => {
      setSpeakerMixOn(input.checked);
      show();
    },
  });
  const stageNote = h("p.muted.small", {}, t("sound.per_speaker_on_stage"));
  // A language channel is one mix (the interpreter over the floor): the per-speaker mix is the Original's.
  const channelNote = h("p.muted.small", { "data-testid": "per-speaker-channel-note" }, t("sound.per_speaker_channel"));
  function show() {
    const staged = onStage();
    const onChannel = !staged && Boolean(audio?.language);
    const state = audio?.speakerMix ?? null;
    // Not in this room (its interpretation channels or broadcast audience rule it out): shown unavailable, and why.
    const unavailable = !staged && !onChannel && state === "unavailable";
    input.disabled = staged || onChannel || unavailable;
    stageNote.hidden = !staged;
    channelNote.hidden = !onChannel;
    const refusal = speakerMixRefusal(state);
    status.classList.toggle("form-error", (refusal !== null || state === "failed") && input.checked);
    if (staged || onChannel || !input.checked) status.textContent = "";
    else if (refusal) status.textContent = refusal;
    else if (state === "failed") status.textContent = t("sound.per_speaker_failed");
    else status.textContent = t(state === "on" ? "sound.per_speaker_active" : "sound.per_speaker_connecting");
  }
  const onChange = () => show();
  audio?.addEventListener("speaker-mix", onChange);
  show();
  const el = h(
    "fieldset.per-speaker",
    {},
    h("legend", {}, t("sound.per_speaker")),
    h(
      "label.choice",
      { for: `${id}-per-speaker` },
      input,
      h("span", {}, h("strong", { id: `${id}-per-speaker-label` }, t("sound.per_speaker_switch")), h("span.hint", { id: `${id}-per-speaker-hint` }, t("sound.per_speaker_hint"))),
    ),
    stageNote,
    channelNote,
    status,
  );
  return { el, stop: () => audio?.removeEventListener("speaker-mix", onChange) };
}

/** On a speaker's card, for a listener: "Volume for <name>", 0–150 % (0 silences them for this listener only),
 * remembered per person on this device; a speaker on the shared track ("others") says whose volume it sets too.
 * With the switch off, a button to the Sound dialog instead. `openSound()` opens that dialog. */
export function speakerVolumeControl(person, { audio, openSound }) {
  const name = person.user.display_name;
  if (!speakerMixOn()) {
    return h(
      "div.speaker-volume",
      {},
      h("p.muted.small", {}, t("speaker.turn_on_hint")),
      h("button", { type: "button", onclick: openSound }, t("speaker.turn_on", { name })),
    );
  }
  const refusal = speakerMixRefusal(audio?.speakerMix);
  if (refusal) return h("div.speaker-volume", {}, h("p.small.form-error", { role: "status" }, refusal));
  const id = `speaker-volume-${++dialogCount}`;
  const shared = audio?.mixer?.trackOf(person.user.id) === SHARED_TRACK;
  const percent = (value) => (value === 0 ? t("speaker.silenced") : new Intl.NumberFormat(lang(), { style: "percent" }).format(value));
  const volume = speakerVolume(person.user.id, shared);
  const shown = h("output", { for: id, "data-testid": "speaker-volume-value" }, percent(volume));
  const hint = shared ? t("speaker.shared", { name, count: Math.max(1, audio.mixer.sharing() - 1) }) : t("speaker.volume_hint", { name });
  return h(
    "div.speaker-volume",
    {},
    h("div.volume-row", {}, h("label", { for: id }, t("speaker.volume", { name })), shown),
    h("input", {
      id,
      type: "range",
      min: "0",
      max: String(MAX_VOLUME * 100),
      step: "5",
      value: String(Math.round(volume * 100)),
      "aria-describedby": `${id}-hint`,
      "data-testid": "speaker-volume",
      oninput: (event) => {
        const value = Number(event.target.value) / 100;
        setSpeakerVolume(person.user.id, value, shared);
        shown.textContent = percent(value);
      },
    }),
    h("p.muted.small", { id: `${id}-hint` }, hint),
  );
}

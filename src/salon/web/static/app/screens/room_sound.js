// The room's "Sound" dialog: the room's volume on this device, and how one's microphone is processed (voice or music
// mode). There is no volume per speaker: the stage reaches a listener as ONE mix (Janus AudioBridge mixes it, the
// broadcast tier sends that mix as it is), so a per-speaker slider could only pretend — the dialog says so instead.

import { musicMode, roomVolume, setMusicMode, setRoomVolume } from "../audio.js";
import { h } from "../dom.js";
import { addStrings, lang, t } from "../i18n.js";
import strings from "./room_sound.strings.js";

addStrings(strings);

let dialogCount = 0;

/** onStage(): whether the person is on stage now (the microphone choice then applies at once). */
export function soundDialog({ onStage }) {
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
  dialog.addEventListener("close", () => dialog.remove());
  queueMicrotask(() => dialog.showModal());
  return dialog;
}

// The interpreter's booth, shown on the room screen to a member assigned to a channel: they hear the floor over
// WebRTC (the room's listen connection, never a channel) and see the stage with its speaking rings below; their
// microphone goes only into their channel (interpretation_audio.js, media_interpret). One big control follows the
// domain's rules (domain/interpretation.py): go live when nobody is, hand over to the partner (who takes it with
// one tap; never two live), release. The server decides each step again.

import { h } from "../dom.js";
import { icon } from "../icons.js";
import { t } from "../i18n.js";
import { live } from "../live.js";
import { boothOf, interpreting, languageName } from "../interpretation.js";

function nameOf(view, userId) {
  const p = view.stage.find((x) => x.user.id === userId) || view.audience.find((x) => x.user.id === userId);
  return p ? p.user.display_name : t("lang.your_partner");
}

/** The booth panel, or null when this member interprets no channel. */
export function boothPanel(session, call) {
  const { view } = session.state;
  const me = live.userId;
  const language = interpreting(view.interpretation, me);
  if (!language) return null;
  const booth = boothOf(view.interpretation, language);
  const name = languageName(language);
  const langs = session.languages;
  const partner = booth.interpreters.find((id) => id !== me) || null;
  const partnerName = partner ? nameOf(view, partner) : null;
  const iAmLive = booth.live === me;
  // Usually connected already (interpretation_audio.js connects a booth's microphone in advance): the tap then only
  // changes who is live.
  const takeFloor = async () => {
    if (!(await langs.openBooth())) {
      session.ui.toast(t("lang.booth_mic_failed"), "error");
      return;
    }
    await langs.takeBooth(() => call("take_booth", { language }));
  };
  let main;
  let state;
  if (iAmLive) {
    state = booth.handover_to ? t("lang.booth_offered", { name: partnerName }) : t("lang.booth_you_live", { language: name });
    main = [
      partner && !booth.handover_to
        ? h("button.primary.booth-main", { type: "button", onclick: () => call("offer_handover", { language }) }, icon("userPlus"), t("lang.hand_over", { name: partnerName }))
        : null,
      h("button.booth-release", { type: "button", onclick: () => call("release_booth", { language }) }, t("lang.release")),
    ];
  } else if (booth.live && booth.handover_to === me) {
    state = t("lang.booth_offered_you", { name: nameOf(view, booth.live) });
    main = h("button.primary.booth-main", { type: "button", onclick: takeFloor }, icon("mic"), t("lang.take_over"));
  } else if (booth.live) {
    state = t("lang.booth_partner_live", { name: nameOf(view, booth.live) });
    main = h("button.booth-main", { type: "button", disabled: true }, icon("micOff"), t("lang.partner_live_button"));
  } else {
    state = t("lang.booth_nobody_live", { floor: languageName(view.interpretation.floor) });
    main = h("button.primary.booth-main", { type: "button", onclick: takeFloor }, icon("mic"), t("lang.go_live"));
  }
  // Connected but not live: said, since the microphone is open (the media server mutes it until then).
  const ready = iAmLive ? null : t("lang.booth_ready");
  const connection = { connecting: t("lang.booth_connecting"), failed: t("lang.booth_mic_failed"), on: ready }[langs.boothState] || null;
  return h(
    "section.booth.card",
    { "aria-label": t("lang.booth_title", { language: name }), "data-testid": "booth", dataset: { live: String(iAmLive) } },
    h("h2", {}, t("lang.booth_title", { language: name })),
    h("p.muted", {}, t("lang.booth_help", { floor: languageName(view.interpretation.floor), language: name })),
    h("p.booth-state", { role: "status" }, h("span.booth-dot", { "aria-hidden": "true" }), state),
    partner ? h("p.muted", {}, t("lang.booth_partner", { name: partnerName })) : null,
    connection ? h("p.muted", { "data-testid": "booth-connection" }, connection) : null,
    h("div.booth-actions", {}, main),
  );
}

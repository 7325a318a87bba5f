// Getting started (/start): where sign-up lands, and what settings link back to. Four short steps, each skippable:
// a photo (the settings' own photo part), topics of interest (up to five of the fixed list), people to follow (the
// inviter first — already followed, sign-up did it —, then whom they follow, then members active lately), and how
// rooms work. It ends in the hallway. `?step=topics` (or photo, people, rooms) opens a step directly.

import { errorMessage, get, put } from "../api.js";
import { avatar, h } from "../dom.js";
import { icon } from "../icons.js";
import { addStrings, t } from "../i18n.js";
import { topicLabel } from "../topics.js";
import { followButton } from "./profile.js";
import { photoPart } from "./settings.js";
import strings from "./start.strings.js";

addStrings(strings);

const STEPS = ["photo", "topics", "people", "rooms"];

export async function render(main, ctx) {
  const asked = STEPS.indexOf(ctx.query.get("step"));
  let index = asked >= 0 ? asked : 0;
  const screen = h("section.screen.start", { "aria-labelledby": "start-title" });
  main.append(screen);
  const me = await get("/me");
  let topics = null; // loaded when the step is first shown, kept while moving between steps

  async function show(next) {
    index = next;
    const step = STEPS[index];
    const body = await STEP_VIEWS[step]();
    const last = index === STEPS.length - 1;
    const next_ = h(
      "button.primary",
      { type: "button", "data-testid": "start-next", onclick: () => advance(step) },
      last ? t("start.to_hallway") : t("start.next"),
    );
    screen.replaceChildren(
      h("p.start-progress.muted", {}, t("start.progress", { step: index + 1, count: STEPS.length })),
      h("ol.start-dots", { "aria-hidden": "true" }, STEPS.map((s, i) => h("li", { class: i <= index ? "done" : "" }))),
      h("h1", { id: "start-title", tabindex: "-1" }, t(`start.title_${step}`)),
      body,
      h("p.form-error", { role: "alert" }),
      h(
        "div.actions.start-actions",
        {},
        index > 0 ? h("button", { type: "button", onclick: () => show(index - 1) }, t("start.back")) : null,
        next_,
        last ? null : h("a.button.start-skip", { href: "/" }, t("start.skip")),
      ),
    );
    screen.querySelector("h1").focus({ preventScroll: true });
  }

  async function advance(step) {
    const error = screen.querySelector(".form-error");
    error.textContent = "";
    try {
      if (step === "topics" && topics) {
        const saved = await put("/me/topics", { topics: topics.picked });
        topics.picked = saved.topics;
      }
    } catch (failure) {
      error.textContent = errorMessage(failure);
      return;
    }
    if (index === STEPS.length - 1) {
      await ctx.refreshMe();
      ctx.navigate("/");
    } else {
      await show(index + 1);
    }
  }

  const STEP_VIEWS = {
    photo: async () => h("div", {}, h("p", {}, t("start.photo_intro")), photoPart(me, ctx)),
    topics: async () => {
      if (!topics) {
        const got = await get("/me/topics");
        topics = { picked: got.topics, choices: got.choices, max: got.max_picks };
      }
      return topicPicker(topics);
    },
    people: async () => peopleList(await get("/me/suggestions"), ctx),
    rooms: async () => howRoomsWork(),
  };

  await show(index);
}

function topicPicker(state) {
  const count = h("p.muted.small", { "aria-live": "polite" });
  const buttons = state.choices.map((slug) =>
    h("button.topic-choice", { type: "button", "aria-pressed": String(state.picked.includes(slug)), dataset: { topic: slug }, onclick: toggle }, topicLabel(slug)),
  );
  function paint() {
    for (const b of buttons) {
      const on = state.picked.includes(b.dataset.topic);
      b.setAttribute("aria-pressed", String(on));
      b.disabled = !on && state.picked.length >= state.max;
    }
    count.textContent = t("start.topics_count", { count: state.picked.length, max: state.max });
  }
  function toggle(event) {
    const slug = event.currentTarget.dataset.topic;
    state.picked = state.picked.includes(slug) ? state.picked.filter((s) => s !== slug) : [...state.picked, slug];
    paint();
  }
  paint();
  return h(
    "div",
    {},
    h("p", {}, t("start.topics_intro", { max: state.max })),
    h("div.topic-choices", { role: "group", "aria-label": t("start.title_topics") }, buttons),
    count,
  );
}

function peopleList(found, ctx) {
  if (!found.people.length) return h("p.empty", {}, t("start.people_none"));
  const inviter = found.people.find((p) => p.reason === "inviter")?.user.display_name;
  const circle = () => (inviter ? t("start.reason_circle_of", { name: inviter }) : t("start.reason_circle"));
  const reason = (p) =>
    p.reason === "inviter" ? t("start.reason_inviter") : p.reason === "followed_by_inviter" ? circle() : t("start.reason_active");
  return h(
    "div",
    {},
    h("p", {}, t("start.people_intro")),
    h(
      "ul.list.card.people.start-people",
      {},
      found.people.map((p) =>
        h(
          "li",
          { dataset: { userId: p.user.id, reason: p.reason } },
          h(
            "span.person-link.grow",
            {},
            avatar(p.user, "m"),
            h("span.person-names", {}, h("strong", {}, p.user.display_name), h("span.muted", {}, reason(p))),
          ),
          followButton(p.user, p.followed_by_you, ctx),
        ),
      ),
    ),
  );
}

function howRoomsWork() {
  const line = (iconName, key) => h("li", {}, icon(iconName, { size: 22 }), h("span", {}, t(key)));
  return h(
    "ul.start-how",
    {},
    line("mic", "start.how_hallway"),
    line("plus", "start.how_stage"),
    line("hand", "start.how_hand"),
    line("shield", "start.how_moderators"),
  );
}

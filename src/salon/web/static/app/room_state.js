// The client's side of the room protocol: a snapshot plus each event gives the next view. A line-by-line port of
// salon/domain/room_view.py (apply_event, hand_queue); tests/e2e/test_room_state_js.py replays the server's own
// scenarios through both and checks they agree.

const LISTENER = "listener";

const stageKey = (p) => [p.stage_since || p.joined_at, p.user.id];
const audienceKey = (p) => [p.joined_at, p.user.id];
const notable = (p) => p.hand_raised_at !== null || Boolean(p.invited_up);

function byKey(key) {
  return (a, b) => {
    const ka = key(a);
    const kb = key(b);
    for (let i = 0; i < ka.length; i++) {
      if (ka[i] < kb[i]) return -1;
      if (ka[i] > kb[i]) return 1;
    }
    return 0;
  };
}

export function handQueue(view) {
  const raised = view.audience.filter((p) => p.hand_raised_at !== null);
  return raised.sort(byKey((p) => [p.hand_raised_at, p.user.id]));
}

function pop(view, userId) {
  for (const where of ["stage", "audience"]) {
    const i = view[where].findIndex((p) => p.user.id === userId);
    if (i >= 0) return [where, view[where].splice(i, 1)[0]];
  }
  return ["", null];
}

function place(view, p) {
  if (p.role !== LISTENER) {
    view.stage.push(p);
    view.stage.sort(byKey(stageKey));
  } else if (!view.room.audience_batched || notable(p)) {
    view.audience.push(p);
    view.audience.sort(byKey(audienceKey));
  }
}

const PARTICIPANT_CHANGES = new Set([
  "hand_raised",
  "hand_lowered",
  "stage_invited",
  "stage_invite_declined",
  "stage_invite_expired",
  "role_changed",
  "mute_changed",
]);

/** A new view with one event applied; unknown events only advance `seq` (forward compatibility). */
export function applyEvent(view, seq, name, data) {
  const v = structuredClone(view);
  v.seq = seq;
  if (name === "participant_joined") {
    const p = data.participant;
    if (p.role === LISTENER) v.listener_count += 1;
    place(v, p);
  } else if (PARTICIPANT_CHANGES.has(name)) {
    const p = data.participant;
    const [where] = pop(v, p.user.id);
    const wasListener = where !== "stage";
    const isListener = p.role === LISTENER;
    v.listener_count += Number(isListener) - Number(wasListener);
    place(v, p);
  } else if (name === "participant_left") {
    pop(v, data.user_id);
    if (data.role === LISTENER) v.listener_count -= 1;
  } else if (name === "hands_enabled") {
    v.room.hands_enabled = data.enabled;
    if (!data.enabled) {
      for (const p of v.audience) p.hand_raised_at = null;
      if (v.room.audience_batched) v.audience = v.audience.filter(notable);
    }
  } else if (name === "audience_batched") {
    v.room.audience_batched = true;
    v.audience = v.audience.filter(notable);
    v.listener_count = data.listener_count;
  } else if (name === "listener_count") {
    v.listener_count = data.listener_count;
  } else if (name === "interpretation_changed") {
    v.interpretation = data.interpretation; // the whole thing each time: languages, ducking, every booth
  } else if (name === "room_ended") {
    v.room.ended_at = data.ended_at;
    v.stage = [];
    v.audience = [];
    v.listener_count = 0;
  }
  return v;
}

/** Where a member stands in a view: their participant entry, or null. */
export function findMe(view, userId) {
  return view.stage.find((p) => p.user.id === userId) || view.audience.find((p) => p.user.id === userId) || null;
}

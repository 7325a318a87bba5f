// Dialogs every screen shares: asking before something that cannot be undone, and copying a link.

import { h } from "./dom.js";
import { t } from "./i18n.js";

let dialogCount = 0;

/** Ask before doing something: resolves true when confirmed (Escape or Cancel: false). Cancel has the focus. */
export function confirmDialog({ title, text = "", confirm, danger = true }) {
  return new Promise((resolve) => {
    const id = `confirm-title-${++dialogCount}`;
    const dialog = h(
      "dialog.confirm-dialog",
      { "aria-labelledby": id },
      h(
        "form",
        { method: "dialog" },
        h("h2", { id }, title),
        text ? h("p", {}, text) : null,
        h(
          "div.actions",
          {},
          h(danger ? "button.danger" : "button.primary", { value: "ok" }, confirm),
          h("button", { value: "cancel", autofocus: true }, t("app.cancel")),
        ),
      ),
    );
    dialog.addEventListener("close", () => {
      dialog.remove();
      resolve(dialog.returnValue === "ok");
    });
    document.body.append(dialog);
    dialog.showModal();
  });
}

/** Copy text to the clipboard; true when it worked (the clipboard API needs HTTPS or localhost: else the old way). */
export async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    const area = h("textarea.visually-hidden", { readonly: true }, text);
    document.body.append(area);
    area.select();
    const done = document.execCommand("copy");
    area.remove();
    return done;
  }
}

// Small pieces the screens' forms share: a labelled field, a submit button that shows it is busy, and showing the
// server's refusal next to the form (with the field it is about, when the server names one).

import { errorMessage } from "../api.js";
import { h } from "../dom.js";

export function field(label, attrs = {}, hint = null) {
  const input = attrs.multiline ? h("textarea", { ...attrs, multiline: undefined }) : h("input", attrs);
  return h("label", {}, label, hint ? h("span.hint", {}, hint) : null, input);
}

/** Wire a form: `submit(values)` runs on submit; its error (an ApiError) is shown in the form's error line. */
export function handleForm(form, submit) {
  const error = form.querySelector(".form-error") || form.appendChild(h("p.form-error", { role: "alert" }));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    const button = form.querySelector("button[type=submit]");
    if (button) button.disabled = true;
    try {
      await submit(Object.fromEntries(new FormData(form)), form);
    } catch (failure) {
      if (!failure?.code) console.error(failure);
      error.textContent = errorMessage(failure);
      const bad = failure?.data?.errors?.[0]?.loc?.at(-1);
      const input = bad && form.elements.namedItem(bad);
      if (input && input.focus) input.focus();
    } finally {
      if (button) button.disabled = false;
    }
  });
  return form;
}

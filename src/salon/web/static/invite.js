// The sign-up page an invite link opens: checks the code, then signs up with a cookie session.
const code = decodeURIComponent(location.pathname.split("/").pop() || "");
const $ = (id) => document.getElementById(id);

async function check() {
  const response = await fetch(`/api/v1/invites/check/${encodeURIComponent(code)}`);
  const body = await response.json();
  if (body.valid) {
    $("status").textContent = "Your invite is valid. Pick a username and a password.";
    $("signup").hidden = false;
  } else {
    $("status").textContent = "This invite link is not valid any more. Ask the person who sent it for a new one.";
  }
}

$("signup").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("error").textContent = "";
  const form = new FormData(event.target);
  const response = await fetch("/api/v1/auth/signup", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ invite_code: code, mode: "cookie", ...Object.fromEntries(form) }),
  });
  const body = await response.json();
  if (!response.ok) {
    $("error").textContent = body.message || "Something went wrong.";
    return;
  }
  $("signup").hidden = true;
  $("status").hidden = true;
  $("who").textContent = body.user.display_name;
  $("done").hidden = false;
});

check();

// Spoiler Shield page: sends the review to POST /predict with sentence scores, then shows
// it with the spoiler sentences blurred. Plain DOM, no dependencies, no innerHTML of API text.
"use strict";

const form = document.getElementById("review-form");
const button = document.getElementById("check");
const errorBox = document.getElementById("error");
const result = document.getElementById("result");

function byId(id) {
  return document.getElementById(id);
}

function showError(message) {
  errorBox.textContent = message;
  errorBox.hidden = false;
}

function percent(p) {
  return (100 * p).toFixed(1) + "%";
}

// The API's error body is {status_code, detail, extra?}; validation errors list fields in extra.
async function describeError(response) {
  let body = null;
  try {
    body = await response.json();
  } catch (_) {
    body = null;
  }
  const what = {
    400: "The review was not accepted",
    413: "The review is too long",
    422: "The review cannot be scored",
    503: "No model can answer right now",
  }[response.status] || "The server could not score the review";
  let detail = body && typeof body.detail === "string" ? body.detail : response.statusText;
  if (body && Array.isArray(body.extra) && body.extra.length) {
    detail = body.extra
      .map((e) => (e.key ? e.key + ": " : "") + (e.message || JSON.stringify(e)))
      .join("; ");
  }
  return what + " (HTTP " + response.status + "): " + detail;
}

function toggle(span) {
  const hidden = span.classList.toggle("blurred");
  span.classList.toggle("revealed", !hidden);
  span.setAttribute("aria-pressed", hidden ? "false" : "true");
  span.setAttribute("aria-label", hidden ? "Hidden spoiler sentence: press to reveal" : span.textContent);
}

// Spans count Unicode code points, as the API does: Array.from splits a string by them.
function renderShielded(text, sentences) {
  const box = byId("shielded");
  box.replaceChildren();
  const chars = Array.from(text);
  for (const s of sentences) {
    const span = document.createElement("span");
    span.className = "sentence";
    span.textContent = chars.slice(s.start, s.end).join("");
    span.title = "spoiler probability " + percent(s.spoiler_probability);
    if (s.is_spoiler) {
      span.classList.add("spoiler", "blurred");
      span.tabIndex = 0;
      span.setAttribute("role", "button");
      span.setAttribute("aria-pressed", "false");
      span.setAttribute("aria-label", "Hidden spoiler sentence: press to reveal");
      span.addEventListener("click", () => toggle(span));
      span.addEventListener("keydown", (event) => {
        if (event.key === "Enter" || event.key === " ") {
          event.preventDefault();
          toggle(span);
        }
      });
    }
    box.appendChild(span);
  }
}

function renderExplanation(explanation) {
  const section = byId("explanation");
  const list = byId("ngrams");
  list.replaceChildren();
  if (!explanation) {
    section.hidden = true;
    return;
  }
  byId("explanation-detail").textContent = explanation.detail;
  for (const n of explanation.ngrams) {
    const item = document.createElement("li");
    item.textContent = "\u201c" + n.ngram + "\u201d  +" + n.weight.toFixed(3);
    list.appendChild(item);
  }
  if (explanation.available && !explanation.ngrams.length) {
    const item = document.createElement("li");
    item.textContent = "nothing in this review pushed the score toward spoiler";
    list.appendChild(item);
  }
  section.hidden = false;
}

function render(text, answer) {
  const verdict = byId("verdict");
  verdict.textContent = answer.is_spoiler ? "Spoiler: this review gives the story away" : "No spoiler found";
  verdict.className = "verdict " + (answer.is_spoiler ? "spoiler" : "clean");
  byId("probability").textContent =
    percent(answer.spoiler_probability) + " (threshold " + percent(answer.threshold) + ")";
  byId("model").textContent = answer.model_name + ", version " + answer.model_version;
  byId("sentence-model").textContent = answer.sentence_model_version
    ? "version " + answer.sentence_model_version + " (threshold " + percent(answer.sentence_threshold) + ")"
    : "none";
  const missing = byId("missing");
  if (answer.missing_features && answer.missing_features.length) {
    missing.textContent = "Scored without these features (unknown movie or user): " +
      answer.missing_features.join(", ");
    missing.hidden = false;
  } else {
    missing.hidden = true;
  }
  renderShielded(text, answer.sentences || []);
  renderExplanation(answer.explanation);
  result.hidden = false;
}

async function check(event) {
  event.preventDefault();
  errorBox.hidden = true;
  const text = byId("review-text").value;
  if (!text.trim()) {
    showError("Paste a review first: the text is empty.");
    byId("review-text").focus();
    return;
  }
  const body = { review_text: text, sentences: true, explain: true };
  const movie = byId("movie-id").value.trim();
  const user = byId("user-id").value.trim();
  if (movie) body.movie_id = movie;
  if (user) body.user_id = user;
  button.disabled = true;
  button.textContent = "Checking\u2026";
  try {
    const response = await fetch("/predict", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    if (!response.ok) {
      result.hidden = true;
      showError(await describeError(response));
      return;
    }
    render(text, await response.json());
  } catch (err) {
    result.hidden = true;
    showError("Could not reach the Spoiler Shield API: " + err.message);
  } finally {
    button.disabled = false;
    button.textContent = "Check";
  }
}

form.addEventListener("submit", check);

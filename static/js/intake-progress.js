/* Submission page: poll the progress endpoint until checking is finished, then reload the page.
   The X-Portal-Poll header tells the server that this request must not extend the idle session. */
(function () {
  "use strict";

  var card = document.querySelector("[data-progress-url]");
  if (!card || card.dataset.final === "1") {
    return;
  }
  var url = card.dataset.progressUrl;
  var bar = card.querySelector("[data-bar]");
  var counter = card.querySelector("[data-counter]");
  var status = card.querySelector("[data-status]");
  var processing = card.querySelector("[data-processing]");
  var processingMessage = card.querySelector("[data-processing-message]");
  var template = card.dataset.counterTemplate || "{checked} / {total}";
  var delay = 2000;
  var maxDelay = 15000;
  var deadline = Date.now() + 60 * 60 * 1000; // give up after an hour; a reload starts again

  function later() {
    if (Date.now() < deadline) {
      window.setTimeout(poll, delay);
      delay = Math.min(Math.round(delay * 1.5), maxDelay);
    }
  }

  function show(data) {
    bar.max = data.records_total || 1;
    bar.value = data.records_checked;
    counter.textContent = template.replace("{checked}", data.records_checked).replace("{total}", data.records_total);
    status.textContent = data.status_label;
    if (processing && data.processing_label) {
      processing.textContent = data.processing_label;
    }
    if (processingMessage) {
      processingMessage.textContent = data.processing_message || "";
    }
  }

  function poll() {
    var request = new XMLHttpRequest();
    request.open("GET", url);
    request.setRequestHeader("X-Portal-Poll", "1");
    request.setRequestHeader("Accept", "application/json");
    request.addEventListener("load", function () {
      if (request.status !== 200) {
        if (request.status >= 500) {
          later();
        }
        return; // 403/404, or the session ended: stop polling
      }
      var data;
      try {
        data = JSON.parse(request.responseText);
      } catch (ignored) {
        return; // redirected to the login page
      }
      show(data);
      if (data.final) {
        window.location.reload();
        return;
      }
      later();
    });
    request.addEventListener("error", later);
    request.send();
  }

  later();
})();

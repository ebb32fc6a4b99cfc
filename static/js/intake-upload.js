/* Upload page: drag and drop onto the file field, and an upload progress bar (XMLHttpRequest).
   Without JavaScript the form posts normally. No inline script or style: CSP allows same-origin files only. */
(function () {
  "use strict";

  var form = document.querySelector("[data-upload-form]");
  if (!form) {
    return;
  }
  var input = form.querySelector("input[type=file]");
  var zone = form.querySelector("[data-dropzone]");
  var list = form.querySelector("[data-file-list]");
  var box = form.querySelector("[data-progress]");
  var bar = form.querySelector("[data-progress-bar]");
  var text = form.querySelector("[data-progress-text]");
  var errors = form.querySelector("[data-errors]");
  var submit = form.querySelector("[data-submit]");

  function formatSize(bytes) {
    if (bytes >= 1048576) {
      return (bytes / 1048576).toFixed(1) + " MB";
    }
    if (bytes >= 1024) {
      return Math.round(bytes / 1024) + " KB";
    }
    return bytes + " B";
  }

  function showFiles(files) {
    list.textContent = "";
    for (var i = 0; i < files.length; i += 1) {
      var item = document.createElement("li");
      item.textContent = files[i].name + "（" + formatSize(files[i].size) + "）";
      list.appendChild(item);
    }
  }

  function showErrors(messages) {
    errors.textContent = "";
    messages.forEach(function (message) {
      var item = document.createElement("li");
      item.className = "error";
      item.textContent = message;
      errors.appendChild(item);
    });
  }

  function reset() {
    submit.disabled = false;
    box.hidden = true;
    bar.value = 0;
    text.textContent = "";
  }

  input.addEventListener("change", function () {
    showFiles(input.files);
  });

  ["dragenter", "dragover"].forEach(function (name) {
    zone.addEventListener(name, function (event) {
      event.preventDefault();
      zone.classList.add("dragging");
    });
  });
  ["dragleave", "dragend", "drop"].forEach(function (name) {
    zone.addEventListener(name, function () {
      zone.classList.remove("dragging");
    });
  });
  zone.addEventListener("drop", function (event) {
    event.preventDefault();
    if (event.dataTransfer && event.dataTransfer.files.length) {
      input.files = event.dataTransfer.files;
      showFiles(input.files);
    }
  });

  form.addEventListener("submit", function (event) {
    if (!window.FormData || !window.XMLHttpRequest || !input.files.length) {
      return; // let the browser post the form (and show the field's own message)
    }
    event.preventDefault();
    showErrors([]);
    var request = new XMLHttpRequest();
    request.open("POST", form.getAttribute("action") || window.location.href);
    request.setRequestHeader("X-Requested-With", "XMLHttpRequest");
    request.setRequestHeader("Accept", "application/json");
    request.upload.addEventListener("progress", function (progress) {
      if (progress.lengthComputable) {
        var percent = Math.round((progress.loaded * 100) / progress.total);
        bar.value = percent;
        text.textContent = form.dataset.msgSending + " " + percent + "%（" + formatSize(progress.loaded) + " / " + formatSize(progress.total) + "）";
      }
    });
    request.upload.addEventListener("load", function () {
      bar.value = 100;
      text.textContent = form.dataset.msgProcessing;
    });
    request.addEventListener("load", function () {
      var data = null;
      try {
        data = JSON.parse(request.responseText);
      } catch (ignored) {
        data = null;
      }
      if (request.status >= 200 && request.status < 300 && data && typeof data.redirect === "string" && data.redirect.charAt(0) === "/" && data.redirect.charAt(1) !== "/") {
        window.location.assign(data.redirect);
        return;
      }
      if (data === null && request.responseURL && request.responseURL.indexOf("/accounts/login/") !== -1) {
        window.location.assign(request.responseURL); // the session has ended
        return;
      }
      reset();
      showErrors(data && data.errors && data.errors.length ? data.errors : [form.dataset.msgFailed]);
    });
    request.addEventListener("error", function () {
      reset();
      showErrors([form.dataset.msgFailed]);
    });
    submit.disabled = true;
    box.hidden = false;
    text.textContent = form.dataset.msgSending;
    request.send(new FormData(form));
  });
})();

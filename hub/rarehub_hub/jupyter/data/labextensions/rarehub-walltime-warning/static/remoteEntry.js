/*
 * RareHub walltime warning — a JupyterLab 4 federated extension without a build step.
 *
 * What it does (batchspawner #120): asks the server's `rarehub/walltime` endpoint
 * (rarehub_hub/walltime.py) how long the Slurm job running this server has left and at which
 * minutes before the end to warn, then shows a JupyterLab warning notification when each of
 * those thresholds is crossed (only the most urgent one if several are crossed at once, e.g.
 * when the lab is opened late). The endpoint is asked again every minute, so a time limit
 * changed by an admin is followed. The remaining time is counted from the server's answer,
 * never from the browser's clock (a laptop's clock may be off by minutes).
 *
 * Why no build step: the plugin needs nothing from JupyterLab's shared packages — it uses
 * only the application object handed to `activate` (`serviceManager.serverSettings`,
 * `restored`, and the `apputils:notify` command of @jupyterlab/apputils-extension). So the
 * webpack module-federation container JupyterLab loads can be written by hand: a global
 * `_JUPYTERLAB[name]` with `init(shareScope)` and `get(module)` (the protocol JupyterLab's
 * bootstrap uses for every prebuilt extension), and nothing has to be pinned or built
 * with node/webpack. Plain ES2017; no imports.
 */
var _JUPYTERLAB;
(function () {
  'use strict';

  var NAME = 'rarehub-walltime-warning';
  var CHECK_MS = 5000; // how often the remaining time is compared with the thresholds
  var REFRESH_MS = 60000; // how often the server is asked again

  function formatRemaining(seconds) {
    var s = Math.max(0, Math.round(seconds));
    var h = Math.floor(s / 3600);
    var m = Math.floor((s % 3600) / 60);
    var sec = s % 60;
    if (h > 0) {
      return h + ' h ' + m + ' min';
    }
    if (m > 0) {
      return m + ' min ' + sec + ' s';
    }
    return sec + ' s';
  }

  function activate(app) {
    var settings = app.serviceManager.serverSettings;
    var url = settings.baseUrl.replace(/\/?$/, '/') + 'rarehub/walltime';
    var state = { jobId: null, endMs: null, warnMinutes: [], lastAsked: 0 };
    var shown = {}; // threshold (minutes) → already warned

    function ask() {
      var headers = {};
      if (settings.token) {
        headers['Authorization'] = 'token ' + settings.token;
      }
      state.lastAsked = Date.now();
      return fetch(url, { credentials: 'same-origin', headers: headers, cache: 'no-store' })
        .then(function (response) {
          return response.json().then(function (body) {
            if (!response.ok) {
              throw new Error(body.message || 'HTTP ' + response.status);
            }
            return body;
          });
        })
        .then(function (info) {
          state.jobId = info.job_id;
          state.warnMinutes = info.warn_minutes || [];
          state.endMs =
            info.job_id !== null && info.remaining_s !== null
              ? Date.now() + info.remaining_s * 1000
              : null;
        })
        .catch(function (error) {
          console.warn(NAME + ': cannot read the job walltime from ' + url + ': ' + error);
        });
    }

    function check() {
      if (Date.now() - state.lastAsked >= REFRESH_MS) {
        ask();
      }
      if (state.endMs === null) {
        return;
      }
      var remaining = (state.endMs - Date.now()) / 1000;
      if (remaining <= 0) {
        return;
      }
      var due = state.warnMinutes.filter(function (minutes) {
        return remaining <= minutes * 60 && !shown[minutes];
      });
      if (due.length === 0) {
        return;
      }
      var most = Math.min.apply(null, due);
      state.warnMinutes.forEach(function (minutes) {
        if (minutes >= most) {
          shown[minutes] = true;
        }
      });
      var at = new Date(state.endMs).toLocaleTimeString([], {
        hour: '2-digit',
        minute: '2-digit'
      });
      var message =
        'Slurm job ' + state.jobId + ' ends in ' + formatRemaining(remaining) +
        ' (at ' + at + '). Save your work: this server stops then.';
      app.commands
        .execute('apputils:notify', {
          message: message,
          type: 'warning',
          options: { autoClose: false }
        })
        .catch(function (error) {
          console.warn(NAME + ': ' + message + ' (no notification: ' + error + ')');
        });
    }

    app.restored.then(function () {
      ask().then(check);
      setInterval(check, CHECK_MS);
    });
  }

  var plugin = {
    id: NAME + ':plugin',
    description: 'Warns before the Slurm job running this server reaches its walltime.',
    autoStart: true,
    activate: activate
  };
  var exposed = { __esModule: true, default: [plugin] };
  var container = {
    init: function () {
      return Promise.resolve(); // shares no packages and needs none
    },
    get: function (module) {
      if (module !== './index' && module !== './extension') {
        return Promise.reject(new Error('Module "' + module + '" does not exist in ' + NAME));
      }
      return Promise.resolve(function () {
        return exposed;
      });
    }
  };
  _JUPYTERLAB = typeof _JUPYTERLAB === 'undefined' ? {} : _JUPYTERLAB;
  _JUPYTERLAB[NAME] = container;
})();

// Renders /openapi.json: each path and method, its summary and description, its request schema and responses.
'use strict';
(async function () {
  const main = document.getElementById('api');
  const spec = await (await fetch('/openapi.json')).json();
  const resolve = (node) => (node && node.$ref ? spec.components[node.$ref.split('/')[2]][node.$ref.split('/')[3]] : node);
  main.replaceChildren();
  for (const [route, methods] of Object.entries(spec.paths)) {
    for (const [method, operation] of Object.entries(methods)) {
      const section = document.createElement('section');
      const title = document.createElement('h2');
      title.innerHTML = '<span class="method"></span><span class="route"></span>';
      title.querySelector('.method').textContent = method;
      title.querySelector('.route').textContent = route;
      const summary = document.createElement('p');
      summary.textContent = [operation.summary, operation.description].filter(Boolean).join(' — ');
      section.append(title, summary);
      const scope = operation.security && operation.security[0] && Object.values(operation.security[0])[0];
      if (scope && scope.length > 0) {
        const access = document.createElement('p');
        access.textContent = 'API key scope: ' + scope.join(', ') + ' (when API_KEYS is set)';
        section.append(access);
      }
      const body = operation.requestBody && operation.requestBody.content;
      if (body) {
        for (const [type, media] of Object.entries(body)) {
          const label = document.createElement('p');
          label.textContent = 'Request (' + type + '):';
          const pre = document.createElement('pre');
          pre.textContent = JSON.stringify(resolve(media.schema), null, 2);
          section.append(label, pre);
        }
      }
      const list = document.createElement('ul');
      for (const [status, response] of Object.entries(operation.responses || {})) {
        const item = document.createElement('li');
        const code = document.createElement('code');
        code.textContent = status;
        item.append(code, ' ' + (response.description || (resolve(response) || {}).description || ''));
        list.append(item);
      }
      section.append(list);
      main.append(section);
    }
  }
})();

import type { NetworkRequest } from '../backend/types';
import { networkGroupText, networkMark, networkText, reachedServer } from '../model/network';
import type { NetworkItem } from '../model/view';

/** "↗ GET http://example.com/page — allowed by your network settings". */
function RequestLine({ request }: { request: NetworkRequest }) {
  return (
    <p
      class={`network-line${reachedServer(request) ? '' : ' is-refused'}`}
      data-testid="network-line"
      data-host={request.host}
      data-allowed={String(request.allowed)}
    >
      <span class="network-mark" aria-hidden="true">
        {networkMark(request)}
      </span>{' '}
      {networkText(request)}
    </p>
  );
}

/**
 * What the agent's tools did on the network, kept quiet: one line, or for several requests in a
 * row one "N network requests" line that opens to show them.
 */
export function NetworkLines({ item }: { item: NetworkItem }) {
  const [first, ...rest] = item.requests;
  if (!first) return null;
  if (rest.length === 0) return <RequestLine request={first} />;
  const refused = item.requests.some((request) => !reachedServer(request));
  return (
    <details class={`network-group${refused ? ' is-refused' : ''}`} data-testid="network-group">
      <summary>
        <span class="network-mark" aria-hidden="true">
          {refused ? '✗' : '↗'}
        </span>{' '}
        {networkGroupText(item.requests)}
      </summary>
      {item.requests.map((request, index) => (
        <RequestLine key={index} request={request} />
      ))}
    </details>
  );
}

/**
 * Files in the conversation: a message's attachments (images as previews
 * sized before they load, other files as chips to download) and the files
 * on their way (a progress bar each, with cancel).
 *
 * @module
 */
import type { Attachment } from "./types.ts";
import { Icon } from "./ui.tsx";
import { attachmentUrl, formatBytes, IMAGE_TYPES, type Upload } from "./uploads.ts";

/** The largest preview, in CSS pixels; the full image opens on a click. */
const PREVIEW_MAX = 360;

/** A message's files: its images first, as previews, then the others as chips. */
export function MessageAttachments({ list }: { list: Attachment[] }) {
  const images = list.filter(isPreviewable);
  const files = list.filter((a) => !isPreviewable(a));
  return (
    <div class="attachments">
      {images.length
        ? (
          <div class="attachment-images">
            {images.map((a) => <ImagePreview key={a.id} attachment={a} />)}
          </div>
        )
        : null}
      {files.map((a) => <FileChip key={a.id} attachment={a} />)}
    </div>
  );
}

function isPreviewable(a: Attachment): boolean {
  return IMAGE_TYPES.has(a.contentType) && !!a.width && !!a.height;
}

/** The preview's size: the image's, scaled down to fit `max` × `max`. */
export function previewSize(width: number, height: number, max = PREVIEW_MAX) {
  const scale = Math.min(1, max / width, max / height);
  return {
    width: Math.max(1, Math.round(width * scale)),
    height: Math.max(1, Math.round(height * scale)),
  };
}

/**
 * An image, in a box of its own aspect ratio from the start (the `width`
 * and `height` attributes, with `height: auto` in CSS), so nothing moves
 * when it loads. A click opens it full size in a new tab.
 */
function ImagePreview({ attachment: a }: { attachment: Attachment }) {
  const url = attachmentUrl(a.id);
  const size = previewSize(a.width!, a.height!);
  return (
    <a
      class="attachment-image"
      href={url}
      target="_blank"
      rel="noopener"
      title={`${a.name} · ${a.width} × ${a.height} · ${formatBytes(a.size)}. Opens full size.`}
      data-attachment-id={a.id}
    >
      <img
        src={url}
        alt={a.name}
        width={size.width}
        height={size.height}
        loading="lazy"
        decoding="async"
      />
    </a>
  );
}

/** Any other file: its name and size, downloaded (never opened in the page) on a click. */
function FileChip({ attachment: a }: { attachment: Attachment }) {
  return (
    <a
      class="file-chip"
      href={attachmentUrl(a.id)}
      download={a.name}
      data-attachment-id={a.id}
    >
      <Icon name="file" />
      <span class="file-text">
        <span class="sr-only">Download</span> <span class="file-name">{a.name}</span>{" "}
        <span class="file-size">{formatBytes(a.size)}</span>
      </span>
      <Icon name="download" />
    </a>
  );
}

/** Files on their way, each with its progress and a button to cancel or remove it. */
export function UploadList(
  { uploads, onRemove, onRetry, label }: {
    uploads: Upload[];
    /** Offered while a file may still be taken out. */
    onRemove?: (u: Upload) => void;
    /** Offered on a refused file, when it may be sent again on its own. */
    onRetry?: (u: Upload) => void;
    label: string;
  },
) {
  const shown = uploads.filter((u) => u.state.value !== "cancelled");
  if (!shown.length) return null;
  return (
    <ul class="uploads" aria-label={label}>
      {shown.map((u) => (
        <UploadItem
          key={u.key}
          upload={u}
          onRemove={onRemove}
          onRetry={onRetry}
        />
      ))}
    </ul>
  );
}

function UploadItem(
  { upload: u, onRemove, onRetry }: {
    upload: Upload;
    onRemove?: (u: Upload) => void;
    onRetry?: (u: Upload) => void;
  },
) {
  const state = u.state.value;
  const name = u.file.name;
  const size = u.file.size;
  const sent = u.sent.value;
  const percent = size ? Math.floor(sent * 100 / size) : 100;
  return (
    <li class={`upload upload-${state}`}>
      <Icon name="file" />
      <span class="upload-text">
        <span class="upload-name">{name}</span> {state === "uploading"
          ? (
            <>
              <span
                class="progress"
                role="progressbar"
                aria-label={`Uploading ${name}`}
                aria-valuemin={0}
                aria-valuemax={100}
                aria-valuenow={percent}
                aria-valuetext={`${formatBytes(sent)} of ${formatBytes(size)}`}
              >
                <span class="progress-fill" style={{ width: `${percent}%` }} />
              </span>
              <span class="upload-meta">{formatBytes(sent)} of {formatBytes(size)}</span>
            </>
          )
          : state === "failed"
          ? <span class="upload-error" role="alert">{u.error.value}</span>
          : <span class="upload-meta">{formatBytes(size)}</span>}
      </span>
      {state === "failed" && u.retryable && onRetry
        ? (
          <button type="button" class="link-button" onClick={() => onRetry(u)}>
            Retry<span class="sr-only">{` ${name}`}</span>
          </button>
        )
        : null}
      {onRemove
        ? (
          <button
            type="button"
            class="icon-button small"
            aria-label={state === "uploading" ? `Cancel uploading ${name}` : `Remove ${name}`}
            title={state === "uploading" ? "Cancel" : "Remove"}
            onClick={() => onRemove(u)}
          >
            <Icon name="close" />
          </button>
        )
        : null}
    </li>
  );
}

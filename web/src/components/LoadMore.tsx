import { Button } from './Button';

/** The button under a cursor-paged list that fetches its next page. */
export function LoadMore({
  hasMore,
  loading,
  onLoad,
  label,
  loadingLabel,
}: {
  hasMore: boolean;
  loading: boolean;
  onLoad: () => void;
  label: string;
  loadingLabel: string;
}) {
  if (!hasMore) return null;
  return (
    <Button variant="secondary" className="load-more" onClick={onLoad} disabled={loading}>
      {loading ? loadingLabel : label}
    </Button>
  );
}

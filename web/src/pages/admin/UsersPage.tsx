import { zodResolver } from '@hookform/resolvers/zod';
import { useInfiniteQuery, useMutation, useQueryClient } from '@tanstack/react-query';
import { useMemo } from 'react';
import * as z from 'zod/mini';
import { nextPageParam } from '../../api/page';
import { createInvitation, listInvitations, listUsers, revokeInvitation, type NewInvitationView } from '../../api/users';
import { Button } from '../../components/Button';
import { CopyButton } from '../../components/CopyButton';
import { ErrorAlert } from '../../components/ErrorAlert';
import { SelectField } from '../../components/FormFields';
import { LoadMore } from '../../components/LoadMore';
import { Loading } from '../../components/Loading';
import { TextField } from '../../components/TextField';
import { useCreateForm } from '../../components/useCreateForm';
import { format } from '../../i18n';
import { formatDateTime, usePageText, type PageDictionary } from '../../i18n/pages';
import '../pages.css';

const usersKey = ['users'] as const;
const invitationsKey = ['invitations'] as const;

function inviteSchema(p: PageDictionary['users']) {
  return z.object({
    email: z.pipe(z.string().check(z.trim(), z.minLength(1, p.emailRequired)), z.email(p.emailInvalid)),
    name: z.string().check(z.trim()),
    role: z.string(),
  });
}
type InviteValues = z.infer<ReturnType<typeof inviteSchema>>;

/** The invitation link, shown once: the gateway keeps only a hash of its token. */
function InvitationLink({ created }: { created: NewInvitationView }) {
  const { p } = usePageText();
  const link = `${window.location.origin}${created.path}`;
  return (
    <div className="form-success" role="status">
      <p>{format(p.users.linkOnce, { email: created.invitation.email })}</p>
      <div className="secret">
        <code>{link}</code>
        <CopyButton value={link} label={p.common.copy} copiedLabel={p.common.copied} />
      </div>
    </div>
  );
}

function InviteForm() {
  const { p } = usePageText();
  const queryClient = useQueryClient();
  const schema = useMemo(() => inviteSchema(p.users), [p.users]);
  const {
    form,
    failure,
    done: created,
    submit,
  } = useCreateForm<InviteValues, NewInvitationView>(
    { resolver: zodResolver(schema), defaultValues: { email: '', name: '', role: 'user' } },
    ['email', 'name', 'role'],
  );
  const {
    register,
    formState: { errors, isSubmitting },
  } = form;

  const onSubmit = submit(async ({ email, name, role }) => {
    const answer = await createInvitation({ email, name, role: role === 'tenant_admin' ? 'tenant_admin' : 'user' });
    await queryClient.invalidateQueries({ queryKey: invitationsKey });
    return answer;
  });

  return (
    <form onSubmit={onSubmit} noValidate className="panel" aria-labelledby="invite-title">
      <h2 id="invite-title">{p.users.inviteTitle}</h2>
      <div className="form-row">
        <TextField label={p.users.email} type="email" autoComplete="off" error={errors.email?.message} {...register('email')} />
        <TextField label={p.users.name} autoComplete="off" error={errors.name?.message} {...register('name')} />
        <SelectField label={p.users.role} error={errors.role?.message} {...register('role')}>
          <option value="user">{p.users.roles.user}</option>
          <option value="tenant_admin">{p.users.roles.tenant_admin}</option>
        </SelectField>
      </div>
      <ErrorAlert error={failure} fallback={p.common.unexpected} />
      {created ? <InvitationLink created={created} /> : null}
      <Button type="submit" disabled={isSubmitting}>
        {isSubmitting ? p.common.creating : p.users.invite}
      </Button>
    </form>
  );
}

function Invitations() {
  const { p, language } = usePageText();
  const queryClient = useQueryClient();
  const invitations = useInfiniteQuery({
    queryKey: invitationsKey,
    queryFn: ({ pageParam }) => listInvitations(pageParam),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: nextPageParam,
  });
  const revoke = useMutation({ mutationFn: revokeInvitation, onSuccess: () => queryClient.invalidateQueries({ queryKey: invitationsKey }) });
  const rows = useMemo(() => invitations.data?.pages.flatMap((page) => page.items) ?? [], [invitations.data]);
  return (
    <section aria-labelledby="invitations-title">
      <h2 id="invitations-title">{p.users.invitationsTitle}</h2>
      <ErrorAlert error={invitations.error ?? revoke.error} fallback={p.common.unexpected} />
      {invitations.isPending ? (
        <Loading />
      ) : rows.length === 0 && !invitations.isError ? (
        <p>{p.users.noInvitations}</p>
      ) : (
        <div className="table-scroll">
          <table className="table">
            <thead>
              <tr>
                <th scope="col">{p.users.email}</th>
                <th scope="col">{p.users.role}</th>
                <th scope="col">{p.common.status}</th>
                <th scope="col">{p.users.expiresAt}</th>
                <th scope="col">{p.common.actions}</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((invitation) => (
                <tr key={invitation.id}>
                  <th scope="row">
                    {invitation.email}
                    {invitation.name ? <div className="muted">{invitation.name}</div> : null}
                  </th>
                  <td>{p.users.roles[invitation.role]}</td>
                  <td>{(p.users.states as Record<string, string>)[invitation.state] ?? invitation.state}</td>
                  <td>{formatDateTime(invitation.expiresAt, language)}</td>
                  <td>
                    {invitation.state === 'pending' ? (
                      <Button
                        variant="secondary"
                        className="button--small"
                        aria-label={format(p.users.revokeName, { email: invitation.email })}
                        disabled={revoke.isPending}
                        onClick={() => revoke.mutate(invitation.id)}
                      >
                        {p.users.revoke}
                      </Button>
                    ) : null}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <LoadMore hasMore={invitations.hasNextPage} loading={invitations.isFetchingNextPage} onLoad={() => void invitations.fetchNextPage()} label={p.common.loadMore} loadingLabel={p.common.loadingMore} />
    </section>
  );
}

/** The tenant's users and invitations (tenant admins). */
export default function UsersPage() {
  const { p } = usePageText();
  const users = useInfiniteQuery({
    queryKey: usersKey,
    queryFn: ({ pageParam }) => listUsers(pageParam),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: nextPageParam,
  });
  const rows = useMemo(() => users.data?.pages.flatMap((page) => page.items) ?? [], [users.data]);
  return (
    <section className="page page--wide" aria-labelledby="page-title">
      <h1 id="page-title">{p.users.title}</h1>
      <h2>{p.users.listTitle}</h2>
      <ErrorAlert error={users.error} fallback={p.common.unexpected} />
      {users.isPending ? (
        <Loading />
      ) : rows.length === 0 && !users.isError ? (
        <p>{p.common.empty}</p>
      ) : (
        <div className="table-scroll">
          <table className="table">
            <thead>
              <tr>
                <th scope="col">{p.users.name}</th>
                <th scope="col">{p.users.email}</th>
                <th scope="col">{p.users.role}</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((user) => (
                <tr key={user.id}>
                  <th scope="row">{user.name || '—'}</th>
                  <td>{user.email}</td>
                  <td>{p.users.roles[user.role]}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <LoadMore hasMore={users.hasNextPage} loading={users.isFetchingNextPage} onLoad={() => void users.fetchNextPage()} label={p.common.loadMore} loadingLabel={p.common.loadingMore} />
      <InviteForm />
      <Invitations />
    </section>
  );
}

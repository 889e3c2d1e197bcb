#!/usr/bin/env bash
# perl with ithreads and XS modules loaded by dlopen (Digest::MD5, Digest::SHA, List::Util,
# Storable, POSIX, Encode, Data::Dumper). Rule: stdout byte-identical.
. "$(dirname "$0")/common.sh"
need perl perl
cat >"$WORK/work.pl" <<'PL'
use strict; use warnings; use threads;
use Digest::MD5 qw(md5_hex); use Digest::SHA qw(sha256_hex); use List::Util qw(sum max shuffle);
use Storable qw(freeze thaw); use POSIX qw(floor); use Encode qw(encode decode); use Data::Dumper;
$Data::Dumper::Sortkeys = 1;
sub work {
  my ($id) = @_;
  my %h; $h{"k$id-$_"} = [$_, "v" x ($_ % 50)] for 1 .. 40000;
  my $frozen = freeze(\%h); my $back = thaw($frozen);
  return join " ", $id, scalar(keys %$back), md5_hex(join ",", sort keys %$back), length $frozen;
}
my @t = map { threads->create(\&work, $_) } 1 .. 4;
print $_->join(), "\n" for @t;
print "sha ", sha256_hex(join "", map { chr(65 + $_ % 26) } 1 .. 100000), "\n";
print "sum ", sum(1 .. 100000), " max ", max(map { floor($_ * 1.5) } 1 .. 1000), "\n";
print "encode ", length(encode("UTF-8", decode("UTF-8", "\xce\xb1\xce\xb2" x 1000))), "\n";
print Dumper({ a => [1, 2, { b => "c" }], d => "e" });
PL
run_both perl "$WORK/work.pl"
same_stdout
same_stderr
agent_ran threads

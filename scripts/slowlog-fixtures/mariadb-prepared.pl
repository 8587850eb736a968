#!/usr/bin/perl
# poolcap slow-log fixtures: binary-protocol (server-side) prepared statements
# against MariaDB, so the slow log shows how COM_STMT_EXECUTE is written.
# Usage: perl mariadb-prepared.pl DATABASE
use strict;
use warnings;
use utf8;
use DBI;

my $db = shift or die "usage: $0 DATABASE\n";
my $dbh = DBI->connect(
    "DBI:mysql:database=$db;host=127.0.0.1;port=3306;mysql_server_prepare=1;mysql_enable_utf8mb4=1",
    'root', '', { RaiseError => 1, PrintError => 0, AutoCommit => 1 });
my $sel = $dbh->prepare('SELECT balance FROM accounts WHERE id = ?');
for my $id (3, 5, 8) {
    $sel->execute($id);
    $sel->fetchall_arrayref;
}
my $ins = $dbh->prepare("INSERT INTO `Patient2Ward` (`Ward3Code`, memo)\n\tVALUES (?, ?)");
$ins->execute('W9', "Überweisung ✓ 患者's");
$ins->execute('W8', 'plain');
$sel->finish;
$dbh->ping;
$dbh->disconnect;
